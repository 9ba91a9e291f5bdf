"""The registry's migrations form one chain: branches landing at once cannot both take a number.

Two migrations with the same ``down_revision`` give alembic two heads, and every registry then
fails at start ("Multiple head revisions"); this names the clash before that.
"""

from __future__ import annotations

import re

from alembic.config import Config
from alembic.script import ScriptDirectory

from opendata_registry.db.engine import _MIGRATIONS


def test_the_migrations_are_one_chain_numbered_like_their_files() -> None:
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    scripts = ScriptDirectory.from_config(config)
    assert len(scripts.get_heads()) == 1, f"several heads: {scripts.get_heads()}; renumber one"
    revisions = list(scripts.walk_revisions())
    assert len(revisions) == len(list((_MIGRATIONS / "versions").glob("v[0-9]*.py")))
    for rev in revisions:
        name = str(rev.module.__file__).rsplit("/", 1)[-1]
        number = re.match(r"v(\d+)_", name)
        assert number is not None and number.group(1) == rev.revision, name
