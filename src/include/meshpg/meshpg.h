/*
 * meshpg.h
 *		Entry points each concern exposes to _PG_init, and the settings.
 */
#ifndef MESHPG_H
#define MESHPG_H

/* the row-security policy that keeps table products fail-closed */
#define MESH_GUARD_POLICY "meshpg_guard"

/* settings (src/meshpg.c) */
extern bool meshpg_confusable_check;

/* invalidation callbacks (the hooks themselves: src/hooks.c) */
extern void mesh_install_catalog_callbacks(void);	/* catalog/cache.c */

/* SLOs and the background worker (slo/, worker/) */
struct MeshProduct;
extern void mesh_slo_init(void);	/* slo/setup.c: settings, callbacks */
extern void mesh_worker_init(void); /* worker/worker.c: the scheduler */

#endif							/* MESHPG_H */
