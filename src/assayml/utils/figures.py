"""PNG bytes of a matplotlib figure laid out by arithmetic, drawn once.

``tight_layout`` measures every text artist's extent before the figure is drawn, which
took about half of each small figure's time here; our figures have one axes and labels of
known length, so margins in inches do the same job (the explain figures do likewise).
"""

from __future__ import annotations

import io

CHAR_INCHES = 0.075  # a tick label character at matplotlib's default 10 pt


def png(fig, left_chars: int = 4, bottom_chars: int = 0, dpi: int = 100) -> bytes:
    """``fig`` (one axes with a title, axis labels and tick labels) as PNG bytes.

    Args:
        left_chars: the longest y tick label, in characters (room left of the axes).
        bottom_chars: the longest x tick label, if they are rotated (else 0).
    """
    width, height = fig.get_size_inches()
    # the y label, then the tick labels; at most half the figure (a 60-character class
    # name is cut at the edge rather than leaving no room for the axes)
    left = min(0.45 + CHAR_INCHES * left_chars, width / 2)
    bottom = min(0.5 + CHAR_INCHES * bottom_chars, height / 2)
    fig.subplots_adjust(
        left=left / width, right=1 - 0.15 / width, bottom=bottom / height, top=1 - 0.35 / height
    )
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, metadata={"Software": None})
    return buffer.getvalue()
