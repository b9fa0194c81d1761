/*
 * classify.h
 *		PII classification: the validators' kinds table (validators.c), the
 *		sampling and the suggestions (classify.c), and the check publish
 *		makes (registry/product.c, a peer in the surface layer).
 */
#ifndef MESHPG_CLASSIFY_H
#define MESHPG_CLASSIFY_H

#include "meshpg/catalog/sqlcall.h"

/* What a sampled column holds, as the sample query renders it. */
typedef enum MeshValueForm
{
	MESH_FORM_TEXT,				/* strings: every validator */
	MESH_FORM_NUMBER,			/* integers and numerics, as digits */
	MESH_FORM_DATE,				/* dates and timestamps, as YYYY-MM-DD */
	MESH_FORM_INET				/* inet and cidr, as text */
} MeshValueForm;

/*
 * A validator: a value check (NULL for none) applied to values of the forms
 * in forms (bits of 1 << MeshValueForm), optionally only when the column's
 * name matches one of its hints (folded through ICU, see validators.c).
 */
typedef bool (*MeshValueCheck) (const char *value, int len);

typedef struct MeshValidator
{
	const char *name;			/* evidence: the validator that matched */
	const char *tag;			/* the tag it suggests */
	MeshValueCheck check;
	int			forms;
	bool		needs_hint;		/* only for columns whose name matches a hint */
	const char *const *hints;	/* column-name dictionary, NULL-terminated */
} MeshValidator;

extern const MeshValidator mesh_validators[];
extern const int mesh_nvalidators;

/* The validator named name, or NULL. */
extern const MeshValidator *mesh_validator(const char *name);

/* Whether the (folded) column name matches one of v's hints. */
extern bool mesh_validator_hinted(const MeshValidator *v, const char *folded_column);

/*
 * Prepares a sampled value for the checks: NFKC through ICU when it is not
 * ASCII (full-width digits become digits), NULL when too long to be any of
 * the kinds.  *len receives the length.
 */
extern char *mesh_classify_prepare(const char *value, int *len);

/* classify.c: settings, and publish's check (registry/product.c) */
extern bool mesh_publish_requires_review;
extern void mesh_define_classify_settings(void);
extern void mesh_classify_check_publish(const MeshProductRow *product);

#endif							/* MESHPG_CLASSIFY_H */
