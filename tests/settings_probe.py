"""DATABASES as config/settings.py builds it from given environment variables, read in a fresh
interpreter (settings are read once per process)."""

import json
import os
import subprocess
import sys

CODE = (
    "import json, os; os.environ['DJANGO_SETTINGS_MODULE'] = 'config.settings';"
    "from django.conf import settings;"
    "print(json.dumps({k: {'ENGINE': v['ENGINE'], 'OPTIONS': v.get('OPTIONS', {}),"
    " 'TEST': v.get('TEST', {})} for k, v in settings.DATABASES.items()}))"
)


def databases_with(**env: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", CODE],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout)
