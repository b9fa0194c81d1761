/*
 * policy.h
 *		The policy model as the enforcement code sees it: policies loaded
 *		and analysed per relation, and the rules compiled from them for the
 *		roles a query runs as.
 */
#ifndef MESHPG_POLICY_H
#define MESHPG_POLICY_H

#include "nodes/parsenodes.h"
#include "nodes/primnodes.h"
#include "utils/relcache.h"

#include "meshpg/catalog/catalog.h"
#include "datatype/timestamp.h"

/*
 * The call format meshpg gives the keyed-hash calls it puts in a query.  The
 * parser never gives it to a call of a user function, and SQL functions
 * inlined into a query keep their own: meshpg.mask_hash refuses to run
 * under any other (masks.c).
 */
#define MESH_POLICY_CALL	COERCE_SQL_SYNTAX

/* Masks in increasing order of restrictiveness: the greatest one wins. */
typedef enum MeshMaskKind
{
	MASK_NONE = 0,
	MASK_CUSTOM,
	MASK_ROUND,
	MASK_BUCKET,
	MASK_DATE,
	MASK_PARTIAL,
	MASK_EMAIL,
	MASK_HASH,
	MASK_REDACT,
	MASK_NULL
} MeshMaskKind;

typedef struct MeshExemptAttribute
{
	char	   *key;
	List	   *values;			/* of char * */
} MeshExemptAttribute;

/* One policy instance on one relation (a tag policy once per tagged column). */
typedef struct MeshPolicy
{
	int64		id;
	char	   *name;
	bool		is_row;
	MeshMaskKind mask;
	AttrNumber	subject;		/* masked or tagged column; 0 for a product row policy */
	Node	   *expr;			/* row filter or custom mask; Vars have varno 1 */
	char	   *arg_value;		/* redact: the replacement, as text */
	int			keep_first;		/* partial */
	int			keep_last;
	char	   *fill;
	char	   *unit;			/* date */
	char	   *step;			/* round and bucket, as numeric text */
	int			nexempt_roles;
	Oid		   *exempt_roles;
	List	   *exempt_attributes;	/* of MeshExemptAttribute */
	List	   *exempt_purposes;	/* of char * */
	bool		applies_to_domain;
} MeshPolicy;

/* What a query may see of one relation, for the roles it runs as. */
typedef struct MeshRules
{
	int			natts;
	Expr	  **masks;			/* [attno - 1]: the mask expression, or NULL */
	MeshMaskKind *mask_kinds;
	List	   *quals;			/* row filters, Vars at varno rtindex */
	bool		any;
	TimestampTz valid_until;	/* an expiring grant's purpose shaped them */
	/* what was applied, for the access history: policy ids, and the masked
	 * column of each (0 for a row policy) */
	int			npolicies;
	int64	   *policies;
	AttrNumber *policy_attnos;
} MeshRules;

/* compile.c */
extern List *mesh_load_policies(const MeshProduct *product, Oid relid);
extern void mesh_ensure_policies(const MeshProduct *product, Oid relid);
extern bool mesh_compile_rules(const MeshProduct *product, Oid relid, int rtindex,
							   int natts, Oid via, MeshRules *rules);
extern bool mesh_policy_exempt(const MeshProduct *product, const MeshPolicy *policy,
							   Oid role, const char **why);
extern Node *mesh_instantiate_filter(const MeshProduct *product, const MeshPolicy *policy,
									 Oid role);
extern Expr *mesh_mask_expr(const MeshPolicy *policy, Relation rel, Var *subject);
extern List *mesh_reader_roles(void);
extern const char *mesh_mask_name(MeshMaskKind kind);

/*
 * compile.c: the masks' table, one row per mask (see mesh_masks[] there):
 * what the compiler, the validator, explain_access and descriptors read.
 */
typedef struct MeshMaskInfo
{
	const char *name;
	MeshMaskKind kind;
	const char *args[4];		/* the argument keys it takes, NULL-terminated */
	bool		expression;		/* takes an expression of value (custom) */
	Expr	   *(*build) (const MeshPolicy *policy, Relation rel, Var *subject);
} MeshMaskInfo;

extern const MeshMaskInfo *mesh_mask_info(const char *name);
extern const MeshMaskInfo *mesh_mask_info_of(MeshMaskKind kind);
extern const MeshMaskInfo *mesh_mask_require(const char *name);
extern Oid	mesh_mask_hash_oid(void);

/* masks.c */
extern void mesh_refuse_hash_call(void) pg_attribute_noreturn();

/* expr.c */
extern Node *mesh_parse_one_expression(const char *text, const char *what,
									   const char *source);
extern Node *mesh_analyze_expr(const char *source, Relation rel, AttrNumber value_attno,
							   bool is_row, Oid target_type, int32 target_typmod,
							   bool stored);
extern void mesh_check_expr_sources(Node *expr);

/*
 * compile.c: every policy expression loaded is passed to the observer that
 * enforcement registers (governance/functions.c pins the functions it calls
 * to the policies' search path), so that this layer never calls up.
 */
typedef void (*MeshPolicyExprObserver) (Node *expr);
extern void mesh_register_policy_expr_observer(MeshPolicyExprObserver observer);

/* stats.c */
extern void mesh_hide_stats(RangeTblEntry *rte, Oid relid, const MeshRules *rules);
extern List *mesh_hidden_stats_enter(void);
extern void mesh_hidden_stats_leave(List *outer);
extern char *mesh_deparse_expr(Node *expr, Relation rel);

/*
 * asof.c: the governance catalog as it was at a moment (explain_access(at =>)),
 * read from the governance history by the compiler's catalog readers.
 */
extern bool mesh_asof_active(void);
extern TimestampTz mesh_policy_now(void);
extern void mesh_asof_begin(TimestampTz at);
extern void mesh_asof_end(void);
extern List *mesh_asof_role_attribute(Oid role, const char *key);
extern MeshProduct *mesh_asof_product(const MeshProduct *live);
extern List *mesh_asof_policy_rows(int64 product_id, List **subjects);

/* identity.c */
extern char *mesh_session_purpose;
extern uint64 mesh_purpose_generation;	/* bumped when meshpg.purpose changes */
extern List *mesh_role_attribute(Oid role, const char *key);
extern bool mesh_purpose_allowed(Oid role, const char *purpose);
extern void mesh_define_identity_settings(void);
extern uint64 mesh_membership_generation(void);
extern void mesh_track_outer_user(void);

#endif							/* MESHPG_POLICY_H */
