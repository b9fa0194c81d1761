/*
 * worker.h
 *		meshpg's background worker: a launcher that keeps one worker per
 *		database named in meshpg.databases, each running a table of tasks.
 *
 * Adding a task: write a `bool my_task(void)` and add {"name", my_task,
 * on_wake} to mesh_worker_tasks[] in worker.c.  Every tick
 * (meshpg.worker_naptime) the worker runs each task in order; when a
 * wake-up comes early (the history ring is half full), only the tasks
 * marked on_wake run.  Each runs in a transaction of its own with a
 * snapshot pushed, as the bootstrap superuser.  A task returns true when it has more to do at once (a batch
 * was full): it then runs again, in a new transaction, up to
 * MESH_TASK_MAX_ROUNDS times in a tick.  A task that raises an error
 * is logged, its transaction rolled back and its failure recorded (see
 * meshpg.worker_tasks()); the next task runs regardless.  A task checks
 * itself that meshpg is installed in the database (mesh_catalog() != NULL)
 * and decides itself what is due: the tick is only the heartbeat.
 */
#ifndef MESHPG_WORKER_H
#define MESHPG_WORKER_H

typedef bool (*MeshTaskFn) (void);

typedef struct MeshTask
{
	const char *name;
	MeshTaskFn	fn;
	bool		on_wake;		/* also when its latch wakes the worker early */
} MeshTask;

/* at most this many tasks, and this many databases with a status row */
#define MESH_MAX_TASKS		16
#define MESH_MAX_DATABASES	64
#define MESH_TASK_MAX_ROUNDS 100

/* worker.c: shared memory steps (src/hooks.c) */
extern void worker_shmem_request(void);
extern void worker_shmem_startup(void);

#endif							/* MESHPG_WORKER_H */
