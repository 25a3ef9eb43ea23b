/* migopts.c: one struct migopts into a MigrateOptions or a CheckRequest.
 * The two generated types carry the same fields under the same names;
 * a macro keeps them from drifting apart. */
#include "migopts.h"

#define MIGOPTS_FILL(q, mo) do {					\
	(q)->vm = (char *)(mo)->vm;					\
	(q)->to = (char *)(mo)->to;					\
	(q)->has_bandwidth_mibs = (mo)->has_bandwidth;			\
	(q)->bandwidth_mibs = (mo)->bandwidth_mibs;			\
	(q)->has_max_downtime_ms = (mo)->has_max_downtime;		\
	(q)->max_downtime_ms = (mo)->max_downtime_ms;			\
	(q)->has_copy_storage = (q)->copy_storage = (mo)->copy_storage;	\
	(q)->has_parallel = (mo)->has_parallel;				\
	(q)->parallel = (mo)->parallel;					\
	(q)->has_tls = (mo)->tls != 0;					\
	(q)->tls = (mo)->tls;						\
} while (0)

void
migopts_to_migrate(const struct migopts *mo, Ferry__MigrateOptions *q)
{
	MIGOPTS_FILL(q, mo);
}

void
migopts_to_check(const struct migopts *mo, Ferry__CheckRequest *q)
{
	MIGOPTS_FILL(q, mo);
}
