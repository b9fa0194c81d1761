/*
 * meshpg.h
 *		Entry points each concern exposes to _PG_init, and the settings.
 */
#ifndef MESHPG_H
#define MESHPG_H

/* the row-security policy that keeps table products fail-closed */
#define MESH_GUARD_POLICY "meshpg_guard"

/*
 * Settings that more than one concern reads; any layer may.
 * meshpg.confusable_check (src/meshpg.c); meshpg.history (history/settings.c):
 * lineage is recorded with the access history, and only while it is on.
 */
extern bool meshpg_confusable_check;
extern bool mesh_history_enabled;

/* invalidation callbacks (the hooks themselves: src/hooks.c) */
extern void mesh_install_catalog_callbacks(void);	/* catalog/cache.c */

/* SLOs and the background worker (slo/, worker/) */
struct MeshProduct;
extern void mesh_slo_init(void);	/* slo/setup.c: settings, callbacks */
extern void mesh_worker_init(void); /* worker/worker.c: the scheduler */

#endif							/* MESHPG_H */
