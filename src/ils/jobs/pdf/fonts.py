"""The font every document is set in: Noto Sans from its Python package, embedded as TrueType.

It covers Latin, Greek, Cyrillic and Vietnamese, so customer and patient names in those scripts
render; it is read through ``importlib.resources``, never from a system font path.
"""

from __future__ import annotations

import io
from importlib import resources

from reportlab.lib.fonts import addMapping
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

FONT = "IlsSans"
FONT_ITALIC = "IlsSans-Italic"
_FILES = {
    FONT: "NotoSans[wdth,wght].ttf",
    FONT_ITALIC: "NotoSans-Italic[wdth,wght].ttf",
}


def register_fonts() -> str:
    """Register the document font with reportlab once per process; its name."""
    known = set(pdfmetrics.getRegisteredFontNames())
    for name, filename in _FILES.items():
        if name in known:
            continue
        data = resources.files("fontpkg_noto_sans").joinpath("files", filename).read_bytes()
        pdfmetrics.registerFont(TTFont(name, io.BytesIO(data)))
    # The package ships the variable font's default (regular) instance only: bold text is drawn
    # in the same face, and headings stand out by size and colour instead.
    # The plain mapping goes last: reportlab reads a font name's weight from the last one.
    addMapping(FONT, 1, 1, FONT_ITALIC)
    addMapping(FONT, 0, 1, FONT_ITALIC)
    addMapping(FONT, 1, 0, FONT)
    addMapping(FONT, 0, 0, FONT)
    return FONT
