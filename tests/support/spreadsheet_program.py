"""Files as a spreadsheet program writes them: LibreOffice headless (Debian's soffice).

LibreOffice opens a file, computes every formula (the cached values, error cells) and saves it
as xlsx, or as csv the way Swiss Excel does (semicolons, Windows-1252, numbers and dates as
shown in de-CH). Each run gets its own user profile, so concurrent test runs do not clash.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

SOFFICE = shutil.which("soffice") or "/usr/bin/soffice"
# Calc's csv export: separator ';' (59), text in '"' (34), Windows-1252 (1), from line 1,
# (no column formats), language de-CH (2055), then (as-shown and the rest at their defaults),
# and the sheet to export (by number, 1-based).
CSV_SWISS_EXCEL = (
    "csv:Text - txt - csv (StarCalc):59,34,1,1,,2055,false,true,true,false,false,{sheet}"
)

_LOCALE = """<?xml version="1.0" encoding="UTF-8"?>
<oor:items xmlns:oor="http://openoffice.org/2001/registry"
 xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<item oor:path="/org.openoffice.Setup/L10N"><prop oor:name="ooSetupSystemLocale" oor:op="fuse">
<value>de-CH</value></prop></item>
<item oor:path="/org.openoffice.Office.Calc/Formula/Load"><prop oor:name="OOXMLRecalcMode"
 oor:op="fuse"><value>0</value></prop></item>
</oor:items>
"""


class SpreadsheetProgram:
    """LibreOffice with a profile of its own (locale de-CH) under ``home``."""

    def __init__(self, home: Path) -> None:
        self.profile = home / "lo-profile"
        user = self.profile / "user"
        user.mkdir(parents=True, exist_ok=True)
        (user / "registrymodifications.xcu").write_text(_LOCALE, encoding="utf-8")

    def convert(self, source: Path, outdir: Path, target: str) -> Path:
        """Open ``source`` and save it into ``outdir`` (``target``: "xlsx", "ods" or a filter)."""
        outdir.mkdir(parents=True, exist_ok=True)
        command = [
            SOFFICE,
            f"-env:UserInstallation={self.profile.as_uri()}",
            "--headless",
            "--norestore",
            "--convert-to",
            target,
            "--outdir",
            str(outdir),
            str(source),
        ]
        done = subprocess.run(command, capture_output=True, text=True, timeout=180, check=False)
        suffix = target.split(":")[0]
        written = sorted(outdir.glob(f"{source.stem}*.{suffix}"))  # csv: "name-Sheet.csv"
        result = written[0] if written else outdir / f"{source.stem}.{suffix}"
        if done.returncode != 0 or not result.is_file():
            raise RuntimeError(f"soffice failed ({done.returncode}): {done.stdout}{done.stderr}")
        return result

    def swiss_csv(self, source: Path, outdir: Path, sheet: int) -> Path:
        """Sheet number ``sheet`` (1-based) saved as Swiss Excel saves csv."""
        return self.convert(source, outdir, CSV_SWISS_EXCEL.format(sheet=sheet))
