/*
 * retention.h
 *		Retention policies, legal holds and their enforcement in small
 *		batches (src/retention/retention.c).
 */
#ifndef MESHPG_RETENTION_H
#define MESHPG_RETENTION_H

extern void mesh_define_retention_settings(void);

/*
 * The background worker's task (worker/worker.c): every
 * meshpg.retention_interval it enforces every policy, one batch per call,
 * each call in its own transaction; true while a batch remains.
 */
extern bool mesh_retention_task(void);

#endif							/* MESHPG_RETENTION_H */
