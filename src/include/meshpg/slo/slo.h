/*
 * slo.h
 *		SLOs: a declaration compiled against its product's relation, the
 *		one-pass evaluator, change tracking for freshness and the read gate.
 */
#ifndef MESHPG_SLO_H
#define MESHPG_SLO_H

#include "datatype/timestamp.h"
#include "nodes/pg_list.h"
#include "port/atomics.h"
#include "storage/lwlock.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"
#include "utils/relcache.h"

#include "meshpg/hooks.h"
#include "meshpg/registry/registry.h"

/*
 * The SLO kinds: the one list of them.  X(kind, name, spec keys, spec
 * compiler): the keys and the compiler are in spec.c.  The enum, the names
 * (declare_slo, evaluation, the SLO views, descriptors) and spec.c's table
 * are all made from this list.  Adding a kind: a line here, its keys and
 * its compiler in spec.c, its measurement in evaluate.c, and the CHECK on
 * meshpg.cat_slo.kind in the next upgrade script (shipped ones are frozen).
 */
#define MESH_SLO_KINDS(X) \
	X(SLO_FRESHNESS, "freshness", freshness_keys, spec_freshness) \
	X(SLO_COMPLETENESS, "completeness", completeness_keys, spec_completeness_validity) \
	X(SLO_VALIDITY, "validity", validity_keys, spec_completeness_validity) \
	X(SLO_UNIQUENESS, "uniqueness", uniqueness_keys, spec_uniqueness) \
	X(SLO_VOLUME, "volume", volume_keys, spec_volume) \
	X(SLO_CUSTOM, "custom", custom_keys, spec_custom)

#define MESH_SLO_KIND_ENUM(kind, name, keys, compile) kind,
typedef enum SloKind
{
	MESH_SLO_KINDS(MESH_SLO_KIND_ENUM)
} SloKind;

/* how many kinds; not in the enum, so -Wswitch names every switch to extend */
#define MESH_SLO_KIND_ONE(kind, name, keys, compile) + 1
#define MESH_SLO_NKINDS (0 MESH_SLO_KINDS(MESH_SLO_KIND_ONE))

/* A spec checked against the relation; built by mesh_slo_compile. */
typedef struct SloSpec
{
	SloKind		kind;
	Numeric		objective;		/* share of runs in the window that must meet */
	/* freshness */
	char	   *column;			/* NULL: by the last committed change */
	Interval   *max_age;
	Numeric		max_age_seconds;
	/* completeness, uniqueness */
	List	   *columns;		/* of char * */
	Numeric		min_ratio;		/* also validity */
	/* validity */
	Node	   *expr;			/* analysed, alias meshpg_product */
	char	   *expr_text;		/* deparsed: the canonical text */
	/* uniqueness */
	Numeric		max_duplicates;
	/* volume */
	Numeric		min_rows;		/* NULL when absent */
	Numeric		max_rows;
	Numeric		max_change_pct;
	bool		approximate;
	/* custom */
	char	   *query;
	char	   *op;
	Numeric		threshold;
} SloSpec;

/* spec.c: the kinds' names, indexed by SloKind, NULL-terminated */
extern const char *const mesh_slo_kind_names[];
extern SloKind mesh_slo_parse_kind(const char *kind);

/*
 * Checks spec for kind on rel (errors point at the key) and returns the
 * compiled form; *canonical gets the normalised spec, every key present.
 */
extern SloSpec *mesh_slo_compile(SloKind kind, Jsonb *spec, Relation rel,
								 const char *product, Jsonb **canonical);

/* The alias stored expressions and the one-pass query use. */
#define MESH_SLO_ALIAS "meshpg_product"

/* evaluate.c: measure a product's SLOs (all, or the ids in only). */
typedef struct SloRun
{
	int64		slo_id;
	TimestampTz scheduled_for;	/* 0: a manual run */
} SloRun;

extern void mesh_slo_evaluate(const char *product, List *runs, List *only, double sample_percent,
							  bool check_rights,
							  void (*emit) (void *arg, Datum *values, bool *nulls),
							  void *emit_arg);

/* changes.c: the last committed change to a product's relation */
typedef struct MeshSloShared
{
	LWLock	   *lock;			/* the change table */
	pg_atomic_uint64 state_generation;	/* bumped when SLO state commits */
	pg_atomic_uint32 entries;	/* entries in the change table */
} MeshSloShared;

extern MeshSloShared *mesh_slo_shared(void);
extern void mesh_changes_init(void);
/* hook steps (src/hooks.c) */
extern void slo_shmem_request(void);
extern void slo_shmem_startup(void);
extern void slo_executor_end(QueryDesc *queryDesc, MeshHookStep next);
extern void slo_utility(PlannedStmt *pstmt, const char *queryString, bool readOnlyTree,
						ProcessUtilityContext context, ParamListInfo params,
						QueryEnvironment *queryEnv, DestReceiver *dest,
						QueryCompletion *qc, MeshHookStep next);
extern bool mesh_last_change(int64 product_id, TimestampTz *at);
extern pg_atomic_uint64 *mesh_last_change_slot(int64 product_id);
extern uint32 mesh_change_entries(void);

/* gate.c; mesh_slo_gate is a read check (governance.h) */
extern void mesh_slo_gate(const MeshProduct *product, Oid userid);
extern int	mesh_slo_gate_suspended;
extern void mesh_slo_gate_init(void);
extern void mesh_slo_gate_invalidate(void);
extern void mesh_slo_state_changed(void);

/* schedule.c: the worker task, which also trims the history */
extern int	mesh_slo_history_days;
extern bool mesh_slo_schedule_task(void);

#endif							/* MESHPG_SLO_H */
