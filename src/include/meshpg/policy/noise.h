/*
 * noise.h
 *		The noise of differential privacy: samples drawn from PostgreSQL's
 *		cryptographically secure source, and the calibration of the
 *		mechanisms (src/policy/noise.c).  doc/aggregate-policies.md
 *		("Differential privacy") gives the definitions and proofs.
 */
#ifndef MESHPG_POLICY_NOISE_H
#define MESHPG_POLICY_NOISE_H

/* A uniform double in (0, 1), from 53 secure random bits (never 0 or 1). */
extern double mesh_dp_uniform(void);

/* One secure random bit. */
extern bool mesh_dp_coin(void);

/* Laplace(0, scale) by the inverse CDF (test and comparison only). */
extern double mesh_dp_laplace(double scale);

/*
 * The two-sided geometric (discrete Laplace) mechanism: an integer X with
 * P(X = k) proportional to exp(-epsilon * |k| / sensitivity), sensitivity
 * in units of the grid the value is released on.
 */
extern int64 mesh_dp_geometric(double epsilon, double sensitivity);

/* Half-width of its central interval of confidence level (e.g. 0.95). */
extern int64 mesh_dp_geometric_halfwidth(double epsilon, double sensitivity,
										 double level);

/*
 * The least t such that a value whose true count is at most `bound` reaches
 * bound + t with probability at most p under the geometric noise above.
 */
extern int64 mesh_dp_geometric_tail(double epsilon, double sensitivity, double p);

#endif							/* MESHPG_POLICY_NOISE_H */
