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

/* hook installers: each saves the previous hook and chains to it */
extern void mesh_install_catalog_callbacks(void);	/* catalog/cache.c */
extern void mesh_install_executor_hooks(void);	/* governance/executor.c */
extern void mesh_install_planner_hook(void);	/* governance/planner.c */
extern void mesh_install_ddl_hooks(void);	/* governance/ddl.c */

/* SLOs and the background worker (slo/, worker/) */
struct MeshProduct;
extern void mesh_slo_init(void);	/* slo/setup.c: settings, hooks, shmem */
extern void mesh_worker_init(void); /* worker/worker.c: the scheduler */
extern void mesh_slo_gate(const struct MeshProduct *product);	/* slo/gate.c */

#endif							/* MESHPG_H */
