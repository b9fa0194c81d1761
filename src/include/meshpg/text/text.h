/*
 * text.h
 *		ICU helpers: name normalisation and spoof checks, search folding.
 */
#ifndef MESHPG_TEXT_H
#define MESHPG_TEXT_H

/*
 * Validates and normalises a domain or product name ("what" names it in
 * messages, or NULL).  On bad input it raises an error, or returns NULL when
 * missing_ok (used to resolve references, where bad means "no such name").
 */
extern char *mesh_normalize_name(const char *input, const char *what, bool missing_ok);

/* ICU confusable skeleton of a normalised name. */
extern char *mesh_name_skeleton(const char *name);

/*
 * Search form of free text: NFKC, case folded, accents removed, and every
 * run of non-alphanumeric characters turned into one space.
 */
extern char *mesh_fold_text(const char *input, int len);

#endif							/* MESHPG_TEXT_H */
