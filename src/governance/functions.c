/*
 * functions.c
 *		Which functions meshpg runs through the fmgr hook, and what it does
 *		around them: SQL set-returning functions are kept from being inlined
 *		(so that the planner hook governs their statements), and the
 *		functions a policy calls run under the policies' search path, with
 *		the messages they raise withheld.
 */
#include "postgres.h"

#include "catalog/pg_language.h"
#include "catalog/pg_proc.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/nodeFuncs.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/memutils.h"
#include "utils/syscache.h"

#include "meshpg/governance/governance.h"
#include "meshpg/policy/policy.h"
#include "meshpg/meshpg.h"


/*
 * Set-returning SQL functions that could be inlined: their bodies would be
 * planned inside standard_planner, after this hook looked.  Claiming an
 * fmgr hook for them keeps them from being inlined; they run through
 * fmgr_sql, which plans their statements here.
 */
typedef struct FuncEntry
{
	Oid			funcid;
	bool		needed;
	bool		pinned;			/* runs under the policies' search path */
} FuncEntry;

static HTAB *func_cache = NULL;

/*
 * Functions that a loaded policy expression calls.  The expression itself
 * is analysed under a fixed search path (expr.c), but a function it calls
 * resolves the names in its body when it runs (SQL bodies given as text,
 * PL/pgSQL, other languages), under the search path of whoever happens to
 * read: a reader with "SET search_path = own_schema, pg_catalog" would
 * have its own upper() or || get the raw value.  Such functions therefore
 * run under the same fixed path as the policy, pinned by the fmgr hook as
 * a SET clause would (and are never inlined, which would resolve the body
 * under the reader's path too).  Functions with a search_path of their own
 * keep it, and so do C and internal ones, which resolve no names.  The set
 * only grows for the life of the backend: a function once called by a
 * policy keeps resolving names the same way.
 */
static HTAB *pinned_funcs = NULL;
static List *pinned_levels = NIL;	/* PinnedCall of each running call */

/*
 * A function a policy calls gets the raw values of the governed relation,
 * and whatever it reports is sent to the reader: a RAISE, or an error such
 * as "invalid input syntax for type integer: <raw value>" from a cast in
 * its body, would carry the value the policy exists to hide, also to a
 * reader's EXCEPTION block (SQLERRM).  While such a function runs, an error
 * context callback (called for every message raised inside it, after the
 * function's own) replaces the message's text, detail, hint and internal
 * query; the SQLSTATE stays, so callers can still tell errors apart.  One
 * callback per running pinned call, kept with the nest levels.
 */
typedef struct PinnedCall
{
	int			level;			/* GUC nest level, or -1: not pinned */
	ErrorContextCallback callback;
} PinnedCall;

static void
policy_function_error_callback(void *arg)
{
	errmsg(MESH_WITHHELD_FUNCTION_MSG);
	errdetail("Messages raised inside a function a policy calls may carry values the policy hides.");
	errhint("The owning domain team can reproduce it as a role the policy does not apply to.");
	internalerrquery(NULL);
	internalerrposition(0);
	errposition(0);
}

static bool
pin_function_walker(Oid funcid, void *context)
{
	bool		found;

	if (pinned_funcs == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(Oid);
		ctl.entrysize = sizeof(Oid);
		ctl.hcxt = TopMemoryContext;
		pinned_funcs = hash_create("meshpg policy functions", 16, &ctl,
								   HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	(void) hash_search(pinned_funcs, &funcid, HASH_ENTER, &found);
	/* fmgr decisions already cached for it are now wrong */
	if (!found && func_cache != NULL)
	{
		hash_destroy(func_cache);
		func_cache = NULL;
	}
	return false;
}

static bool
pin_functions_walker(Node *node, void *context)
{
	if (node == NULL)
		return false;
	/* nested queries recurse without nodeFuncs.c checking */
	check_stack_depth();
	if (IsA(node, Query))
		return query_tree_walker((Query *) node, pin_functions_walker, context, 0);
	(void) check_functions_in_node(node, pin_function_walker, context);
	return expression_tree_walker(node, pin_functions_walker, context);
}

void
mesh_pin_policy_functions(Node *expr)
{
	(void) pin_functions_walker(expr, NULL);
}

/* Whether funcid must run under the policies' search path. */
static bool
needs_pinned_path(Form_pg_proc proc, HeapTuple tup)
{
	bool		isnull;
	Datum		config;
	ArrayType  *array;
	Datum	   *elems;
	int			n;

	if (pinned_funcs == NULL ||
		hash_search(pinned_funcs, &proc->oid, HASH_FIND, NULL) == NULL)
		return false;
	if (proc->prolang == ClanguageId || proc->prolang == INTERNALlanguageId)
		return false;
	/* a SQL-standard body (RETURN or BEGIN ATOMIC) was resolved when created */
	if (proc->prolang == SQLlanguageId &&
		!heap_attisnull(tup, Anum_pg_proc_prosqlbody, NULL))
		return false;
	config = SysCacheGetAttr(PROCOID, tup, Anum_pg_proc_proconfig, &isnull);
	if (isnull)
		return true;
	array = DatumGetArrayTypeP(config);
	deconstruct_array(array, TEXTOID, -1, false, TYPALIGN_INT, &elems, NULL, &n);
	for (int i = 0; i < n; i++)
		if (pg_strncasecmp(TextDatumGetCString(elems[i]), "search_path=", 12) == 0)
			return false;
	return true;
}

static void
func_cache_callback(Datum arg, int cacheid, uint32 hashvalue)
{
	if (func_cache != NULL)
	{
		hash_destroy(func_cache);
		func_cache = NULL;
	}
}

bool
mesh_needs_fmgr(Oid funcid, MeshHookStep next)
{
	FuncEntry  *entry;
	bool		found;
	HeapTuple	tup;

	if (mesh_next_needs_fmgr(funcid, next))
		return true;
	/* set_config('role', ...) changes the outer user mid-statement */
	if (funcid == F_SET_CONFIG)
		return true;
	if (!IsTransactionState() || mesh_catalog() == NULL)
		return false;

	if (func_cache == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(Oid);
		ctl.entrysize = sizeof(FuncEntry);
		ctl.hcxt = CacheMemoryContext;
		func_cache = hash_create("meshpg functions", 256, &ctl,
								 HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	entry = hash_search(func_cache, &funcid, HASH_ENTER, &found);
	if (!found)
	{
		entry->needed = false;
		entry->pinned = false;
		tup = SearchSysCache1(PROCOID, ObjectIdGetDatum(funcid));
		if (HeapTupleIsValid(tup))
		{
			Form_pg_proc proc = (Form_pg_proc) GETSTRUCT(tup);

			entry->pinned = needs_pinned_path(proc, tup);
			entry->needed = entry->pinned ||
				(proc->prolang == SQLlanguageId && proc->proretset &&
				 proc->provolatile != PROVOLATILE_VOLATILE);
			ReleaseSysCache(tup);
		}
	}
	return entry->needed;
}

static bool
function_pinned(Oid funcid)
{
	FuncEntry  *entry;

	if (pinned_funcs == NULL || func_cache == NULL)
		return false;
	entry = hash_search(func_cache, &funcid, HASH_FIND, NULL);
	return entry != NULL && entry->pinned;
}

void
mesh_fmgr(FmgrHookEventType event, FmgrInfo *flinfo, Datum *private, MeshHookStep next)
{
	mesh_next_fmgr(event, flinfo, private, next);
	mesh_track_outer_user();

	/*
	 * A policy's function runs under the policies' search path, restored
	 * when it returns.  On an error, the (sub)transaction abort restores it,
	 * as for a function's own SET clause; only our stack is popped.  The
	 * private datum belongs to the previous hook too, so the nest levels
	 * are kept here; calls nest, so a stack follows them.
	 */
	switch (event)
	{
		case FHET_START:
			{
				PinnedCall *pc = MemoryContextAllocZero(TopMemoryContext,
														sizeof(PinnedCall));
				MemoryContext old;

				pc->level = -1;
				if (function_pinned(flinfo->fn_oid))
				{
					pc->level = NewGUCNestLevel();
					(void) set_config_option("search_path", "pg_catalog, pg_temp",
											 PGC_USERSET, PGC_S_SESSION,
											 GUC_ACTION_SAVE, true, 0, false);

					/*
					 * fmgr_security_definer starts its PG_TRY after this
					 * hook: the function's messages see the callback, and
					 * its PG_CATCH restores the stack with it, before
					 * FHET_ABORT pops it.
					 */
					pc->callback.callback = policy_function_error_callback;
					pc->callback.arg = NULL;
					pc->callback.previous = error_context_stack;
					error_context_stack = &pc->callback;
				}
				/* pushed last: an error before it gets no FHET_ABORT */
				old = MemoryContextSwitchTo(TopMemoryContext);
				pinned_levels = lcons(pc, pinned_levels);
				MemoryContextSwitchTo(old);
			}
			break;
		case FHET_END:
		case FHET_ABORT:
			if (pinned_levels != NIL)
			{
				PinnedCall *pc = linitial(pinned_levels);

				pinned_levels = list_delete_first(pinned_levels);
				if (pc->level >= 0)
				{
					if (error_context_stack == &pc->callback)
						error_context_stack = pc->callback.previous;
					if (event == FHET_END)
						AtEOXact_GUC(true, pc->level);
				}
				pfree(pc);
			}
			break;
	}
}

void
mesh_install_function_callbacks(void)
{
	CacheRegisterSyscacheCallback(PROCOID, func_cache_callback, (Datum) 0);
}
