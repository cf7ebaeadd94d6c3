"""A registry CSV's bytes as text, in the encodings registry files arrive in.

Excel in Japan saves CSV as Shift_JIS (Windows code page 932) with CRLF line ends; elsewhere, and from most
tools, it is UTF-8, with or without a byte-order mark. So the import reads:

- the encoding declared (`charset=` on the upload, `--encoding` on the command line): UTF-8 or Shift_JIS/CP932
  under any of their usual names;
- otherwise the one the file is in: UTF-8 when all of it is valid UTF-8, else CP932 when all of it is valid
  CP932 (a superset of Shift_JIS, with the NEC and IBM extensions Windows writes) without NUL characters.

A file in neither, or not in the one declared, is refused with `RegistryEncodingError` naming the encoding and
the line (the header is line 1). Line ends (CRLF or LF) are the CSV reader's business.
"""

from __future__ import annotations

import codecs

UTF8 = "utf-8-sig"  # a byte-order mark, when there is one, is not part of the first column's name
CP932 = "cp932"
ENCODINGS = {"utf-8": UTF8, "utf8": UTF8, "utf-8-sig": UTF8, "shift_jis": CP932, "shift-jis": CP932,
             "sjis": CP932, "cp932": CP932, "ms932": CP932, "windows-31j": CP932, "x-sjis": CP932,
             "ms_kanji": CP932}
NAMES = {UTF8: "UTF-8", CP932: "Shift_JIS (CP932)"}


class RegistryEncodingError(ValueError):
    """The file cannot be read as text: `line` (1-based) and a sentence a person can act on."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"line {line}: {message}" if line else message)
        self.line = line
        self.message = message


def _line_of(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


def _decode(data: bytes, encoding: str) -> str:
    try:
        return codecs.decode(data, encoding)
    except UnicodeDecodeError as error:
        raise RegistryEncodingError(
            _line_of(data, error.start),
            f"the file is not {NAMES[encoding]} text (byte 0x{data[error.start]:02X} at byte {error.start + 1}); "
            "save it as UTF-8 or Shift_JIS (CP932), or declare the encoding it is in",
        ) from None


def registry_text(data: bytes, declared: str | None = None) -> str:
    """The file's text, decoded as declared or as detected; RegistryEncodingError when it cannot be."""
    if declared is not None:
        encoding = ENCODINGS.get(declared.strip().strip('"').lower())
        if encoding is None:
            raise RegistryEncodingError(
                0, f"the encoding {declared!r} is not one the registry import reads: UTF-8 or Shift_JIS (CP932)"
            )
        text = _decode(data, encoding)
    else:
        try:
            text = _decode(data, UTF8)
        except RegistryEncodingError as not_utf8:
            try:
                text = _decode(data, CP932)
            except RegistryEncodingError:
                raise not_utf8 from None
            if "\x00" in text:  # UTF-16 and other binaries can pass for CP932, never without NULs
                raise not_utf8 from None
    if (nul := text.find("\x00")) >= 0:
        raise RegistryEncodingError(text.count("\n", 0, nul) + 1, "the file contains the NUL character: not CSV text")
    return text
