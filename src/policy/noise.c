/*
 * noise.c
 *		The noise of differential privacy, model-level: sampling from
 *		PostgreSQL's cryptographically secure source (pg_strong_random, never
 *		random()), and the calibration of the mechanisms the privacy rewrite
 *		(governance/privacy.c) puts into queries.
 *
 * Every value a privacy policy releases is an integer (a count, a sum of
 * an integer column) or a multiple of a power-of-two grid (a sum of a
 * real column, rounded to the grid first), and its noise is drawn from the
 * two-sided geometric distribution on that grid (Ghosh, Roughgarden and
 * Sundararajan 2009), the discrete analogue of the Laplace mechanism.
 * Continuous Laplace noise added in floating point leaks through the
 * least significant bits of the result (Mironov 2012: the set of doubles
 * x + Lap(b) can reach depends on x); noise on the integers has no such
 * bits, since the noise's distribution does not depend on the true value
 * and the sum is exact.  The uniform draws behind the geometric samples
 * have 53 bits, so its far tail is cut at about 36.7 scale units (mass
 * below 2^-52): that truncation is a failure probability, counted in the
 * documentation as an extra delta of at most 2^-50.
 *
 * mesh_dp_laplace() (inverse CDF) is kept for the property test, which
 * checks the sampler against its theoretical distribution.
 */
#include "postgres.h"

#include <math.h>

#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"

#include "meshpg/policy/noise.h"

PG_FUNCTION_INFO_V1(mesh_dp_noise_sample);

static uint64
secure_bits(void)
{
	uint64		r;

	if (!pg_strong_random(&r, sizeof(r)))
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not generate secure random numbers for differential privacy noise"),
				 errhint("Check the server's source of strong randomness (OpenSSL or /dev/urandom).")));
	return r;
}

double
mesh_dp_uniform(void)
{
	/* 53 bits, centred in their cell of the grid: in (0, 1), never 0 or 1 */
	return ((double) (secure_bits() >> 11) + 0.5) / 9007199254740992.0;
}

bool
mesh_dp_coin(void)
{
	return (secure_bits() & 1) != 0;
}

double
mesh_dp_laplace(double scale)
{
	/* |X| is exponential: -ln(U); the sign from an independent bit */
	double		e = -log(mesh_dp_uniform());

	return mesh_dp_coin() ? scale * e : -scale * e;
}

/*
 * A geometric count of failures, P(G = k) = (1 - a) a^k with
 * ln a = -rate: G = floor(-ln(U) / rate).
 */
static int64
geometric_one(double rate)
{
	double		g = floor(-log(mesh_dp_uniform()) / rate);

	/* beyond 2^53 doubles are not integers any more; never reached in use */
	if (g > 9007199254740992.0)
		g = 9007199254740992.0;
	return (int64) g;
}

int64
mesh_dp_geometric(double epsilon, double sensitivity)
{
	double		rate;

	if (!(epsilon > 0) || !(sensitivity > 0))
		elog(ERROR, "geometric noise needs a positive epsilon and sensitivity");
	rate = epsilon / sensitivity;
	/* the difference of two iid geometric variables is two-sided geometric */
	return geometric_one(rate) - geometric_one(rate);
}

/*
 * P(|X| > t) = 2 a^(t+1) / (1 + a): the least t with that <= 1 - level.
 */
int64
mesh_dp_geometric_halfwidth(double epsilon, double sensitivity, double level)
{
	double		rate = epsilon / sensitivity;
	double		a = exp(-rate);
	double		t = ceil(-log((1.0 - level) * (1.0 + a) / 2.0) / rate - 1.0);

	return t < 0 ? 0 : (int64) t;
}

/* P(X >= t) = a^t / (1 + a) <= p */
int64
mesh_dp_geometric_tail(double epsilon, double sensitivity, double p)
{
	double		rate = epsilon / sensitivity;
	double		a = exp(-rate);
	double		t = ceil(-log(p * (1.0 + a)) / rate);

	return t < 0 ? 0 : (int64) t;
}

/*
 * meshpg.dp_noise_sample(mechanism, epsilon, sensitivity, n): n draws of
 * the noise, for the property test of the distribution.  Superuser only:
 * a reader must never get noise detached from a value it protects.
 */
Datum
mesh_dp_noise_sample(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char	   *mechanism;
	double		epsilon;
	double		sensitivity;
	int32		n;
	bool		laplace;

	if (!superuser())
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("meshpg.dp_noise_sample is for tests, superusers only")));
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2) || PG_ARGISNULL(3))
		PG_RETURN_NULL();
	mechanism = text_to_cstring(PG_GETARG_TEXT_PP(0));
	epsilon = PG_GETARG_FLOAT8(1);
	sensitivity = PG_GETARG_FLOAT8(2);
	n = PG_GETARG_INT32(3);
	if (strcmp(mechanism, "laplace") == 0)
		laplace = true;
	else if (strcmp(mechanism, "geometric") == 0)
		laplace = false;
	else
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown noise mechanism \"%s\"", mechanism),
				 errhint("Use 'laplace' or 'geometric'.")));
	if (!(epsilon > 0) || !(sensitivity > 0) || n < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("epsilon and sensitivity must be positive, n not negative")));

	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	for (int i = 0; i < n; i++)
	{
		Datum		v;
		bool		isnull = false;

		CHECK_FOR_INTERRUPTS();
		v = Float8GetDatum(laplace ? mesh_dp_laplace(sensitivity / epsilon)
						   : (double) mesh_dp_geometric(epsilon, sensitivity));
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, &v, &isnull);
	}
	return (Datum) 0;
}
