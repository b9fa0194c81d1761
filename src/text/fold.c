/*
 * fold.c
 *		Search folding: the form in which catalog text is indexed and queries
 *		are matched, so that 'cafe' finds 'Café' and 'ＣＡＦＥ'.
 */
#include "postgres.h"

#include <unicode/uchar.h>
#include <unicode/utf16.h>

#include "fmgr.h"
#include "utils/builtins.h"

#include "meshpg/text/icu.h"
#include "meshpg/text/text.h"

PG_FUNCTION_INFO_V1(meshpg_fold);

char *
mesh_fold_text(const char *input, int len)
{
	int32_t		ulen;
	int32_t		flen;
	int32_t		dlen;
	UChar	   *ustr = mesh_utf8_to_uchar(input, len, &ulen);
	UChar	   *folded = mesh_normalize(ustr, ulen, &flen, true);
	UChar	   *decomposed = mesh_normalize(folded, flen, &dlen, false);
	UChar	   *out = palloc(sizeof(UChar) * (dlen + 1));
	int32_t		olen = 0;
	int32_t		i = 0;
	bool		pending_space = false;

	/*
	 * Decomposed, accents are separate non-spacing marks: drop them.  Any
	 * other non-alphanumeric run becomes a single separator.
	 */
	while (i < dlen)
	{
		UChar32		c;

		U16_NEXT(decomposed, i, dlen, c);
		if (u_charType(c) == U_NON_SPACING_MARK)
			continue;
		if (u_isalnum(c) || u_charType(c) == U_COMBINING_SPACING_MARK)
		{
			if (pending_space && olen > 0)
				out[olen++] = ' ';
			pending_space = false;
			U16_APPEND_UNSAFE(out, olen, c);
		}
		else
			pending_space = true;
	}

	/* Recompose what is left (Hangul, for one, decomposed without marks). */
	{
		int32_t		rlen;
		UChar	   *recomposed = mesh_normalize(out, olen, &rlen, true);

		return mesh_uchar_to_utf8(recomposed, rlen);
	}
}

/* meshpg.fold(text): the search form of a text. */
Datum
meshpg_fold(PG_FUNCTION_ARGS)
{
	text	   *input = PG_GETARG_TEXT_PP(0);

	PG_RETURN_TEXT_P(cstring_to_text(mesh_fold_text(VARDATA_ANY(input),
													VARSIZE_ANY_EXHDR(input))));
}
