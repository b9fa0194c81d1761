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
#include "utils/jsonb.h"
#include "utils/relcache.h"

#include "meshpg/catalog/catalog.h"
#include "datatype/timestamp.h"

/* PostgreSQL 17's typed list loop, for the 15 meshpg builds on */
#ifndef foreach_ptr
#define foreach_ptr(type, var, lst) \
	for (type *var = 0, *var##__outerloop = (type *) 1; var##__outerloop; \
		 var##__outerloop = 0) \
		for (ForEachState var##__state = {(lst), 0}; \
			 (var##__state.l != NIL && var##__state.i < var##__state.l->length && \
			  (var = (type *) lfirst(&var##__state.l->elements[var##__state.i]), true)); \
			 var##__state.i++)
#endif

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

/*
 * The kinds of policy, one row each in mesh_policy_kinds[] (compile.c):
 * what a reader's rules get from a policy of the kind.  Stored in
 * meshpg.cat_policy.kind, its options in cat_policy.mask_args.
 */
typedef enum MeshPolicyKind
{
	POLICY_MASK = 0,			/* a column's values replaced (MeshMaskKind) */
	POLICY_ROW,					/* rows filtered */
	POLICY_PROJECTION,			/* a column filtered on, never returned */
	POLICY_AGGREGATION,			/* read only through aggregates of large groups */
	POLICY_PRIVACY				/* aggregates with calibrated noise (engineer dp) */
} MeshPolicyKind;

/* The aggregates an aggregation policy lets consume a product's columns. */
#define MESH_AGG_COUNT			0x01	/* count(*), count(col) */
#define MESH_AGG_COUNT_DISTINCT	0x02	/* count(DISTINCT col) */
#define MESH_AGG_SUM			0x04
#define MESH_AGG_AVG			0x08
#define MESH_AGG_MIN			0x10
#define MESH_AGG_MAX			0x20
#define MESH_AGG_DEFAULT		(MESH_AGG_COUNT | MESH_AGG_COUNT_DISTINCT | MESH_AGG_SUM | MESH_AGG_AVG)

typedef struct MeshPolicyKindInfo
{
	const char *name;			/* cat_policy.kind */
	MeshPolicyKind kind;
	bool		column;			/* applies to a column (tagged or named) */
	const char *options[12];		/* keys of its options; masks: per mask */
} MeshPolicyKindInfo;

extern const MeshPolicyKindInfo *mesh_policy_kind_info(const char *name);
extern const MeshPolicyKindInfo *mesh_policy_kind_info_of(MeshPolicyKind kind);
extern uint32 mesh_agg_flag(const char *name);
extern const char *mesh_agg_flag_names(uint32 flags);

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
	MeshPolicyKind kind;
	bool		is_row;			/* kind == POLICY_ROW */
	MeshMaskKind mask;			/* MASK_NONE unless kind == POLICY_MASK */
	AttrNumber	subject;		/* masked or tagged column; 0 for a product row policy */
	Node	   *expr;			/* row filter or custom mask; Vars have varno 1 */
	char	   *arg_value;		/* redact: the replacement, as text */
	int			keep_first;		/* partial */
	int			keep_last;
	char	   *fill;
	char	   *unit;			/* date */
	char	   *step;			/* round and bucket, as numeric text */
	/* aggregation and privacy policies */
	Jsonb	   *options;		/* as stored (cat_policy.mask_args) */
	int			min_group_size;
	AttrNumber	entity_key;		/* 0: none, groups count rows */
	uint32		aggregates;		/* MESH_AGG_* */
	int			nexempt_roles;
	Oid		   *exempt_roles;
	List	   *exempt_attributes;	/* of MeshExemptAttribute */
	List	   *exempt_purposes;	/* of char * */
	bool		applies_to_domain;
} MeshPolicy;

/*
 * An aggregation or differential-privacy policy that applies to the reader:
 * the relation may be read only through aggregates (governance/aggregate.c
 * checks and rewrites the query that reads it).  Palloc'd with the rules.
 */
typedef struct MeshAggRule
{
	MeshPolicyKind kind;		/* POLICY_AGGREGATION or POLICY_PRIVACY */
	int64		policy_id;
	char	   *policy_name;
	int			min_group_size;
	AttrNumber	entity_key;		/* 0: groups count the relation's rows */
	uint32		aggregates;		/* MESH_AGG_* allowed */
	Jsonb	   *options;		/* the policy's options, as stored */
} MeshAggRule;

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
	/* projection policies: [attno - 1] names the policy, or NULL */
	char	  **projected;
	/* aggregation and privacy policies that apply (MeshAggRule) */
	List	   *agg_rules;

	/*
	 * The row-policy specialisation these rules are (governed statistics,
	 * governance/statsets.c): readers whose filters and masks compile to the
	 * same expressions see the same rows and values, and share one set of
	 * statistics.  spec_key hashes the expressions; spec_ok is false when
	 * the filter cannot be evaluated apart from the reader's query (a
	 * subquery, a function that is not immutable, a function outside
	 * PostgreSQL and meshpg), and then no statistics are computed for it.
	 */
	uint64		spec_key;
	bool		spec_ok;
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
extern bool mesh_compile_rules_from_policies(const MeshProduct *product, List *policies,
										Oid relid, int natts, Oid role, MeshRules *rules);
extern bool mesh_compile_rules_for_role(const MeshProduct *product, Oid relid, int natts,
										Oid role, MeshRules *rules);
extern bool mesh_spec_function_ok(Oid funcid);
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

/*
 * explain.c: which statistics a role's plans use (explain_access); the
 * statistics' owner (governance/statsets.c) registers it from src/hooks.c.
 */
typedef void (*MeshStatsDescriber) (const MeshProduct *product, Oid relid, Oid role,
									const char **effect, char **reason);
extern void mesh_register_stats_describer(MeshStatsDescriber describer);

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
