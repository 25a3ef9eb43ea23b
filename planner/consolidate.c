/* consolidate.c: the rebalancing planner's policy consolidate (pack the
 * cluster onto fewer hosts). See balance.h. */
#include <stdlib.h>

#include "balance.h"
#include "plan_state.h"

static int
balance_cmp_unit_mem(const void *a, const void *b, void *arg)
{
	const struct balance_unit *units = arg;
	size_t i = *(const size_t *)a, j = *(const size_t *)b;

	if (units[i].mem_mib != units[j].mem_mib)
		return units[i].mem_mib > units[j].mem_mib ? -1 : 1;
	return i < j ? -1 : i > j;
}

/* Consolidate: empty the host with the least guest memory first, placing
 * its units largest first on the occupied host with the most guest memory
 * that takes them under the ceiling (the one the order would empty last;
 * ties: the fullest); a host that cannot be emptied whole is left as it
 * is. Hosts emptied are never destinations again, and a host that received
 * a VM is never emptied: no VM moves twice (h1 -> h2 -> h3 is h1 -> h3),
 * and every host's moves together free that host. */
int
balance_run_consolidate(struct balance_state *st)
{
	const struct balance_model *m = st->m;
	const struct balance_opts *o = st->o;
	uint8_t *tried = NULL, *emptied = NULL, *received = NULL;
	size_t *list = NULL, *stamp = NULL;
	size_t h, s, d, n, k, i, v, mark, nl, bestd;
	struct balance_unit *u;
	struct balance_move *mv;
	double fill, bestfill, before;
	int ok, rc = -1;

	if ((tried = calloc(m->nhosts + 1, 1)) == NULL ||
	    (emptied = calloc(m->nhosts + 1, 1)) == NULL ||
	    (received = calloc(m->nhosts + 1, 1)) == NULL ||
	    (list = calloc(st->nunits + 1, sizeof(*list))) == NULL ||
	    (stamp = calloc(st->nunits + 1, sizeof(*stamp))) == NULL)
		goto out;
	for (;;) {
		s = BALANCE_END;
		for (h = 0; h < m->nhosts; h++)
			if (m->hosts[h].usable && !tried[h] && !received[h] &&
			    st->head[h] != BALANCE_END &&
			    (s == BALANCE_END || st->gmem[h] < st->gmem[s]))
				s = h;
		if (s == BALANCE_END)
			break;
		tried[s] = 1;
		nl = k = 0;
		ok = 1;
		for (v = st->head[s]; v != BALANCE_END; v = st->next[v]) {
			k++;
			i = st->unit_of[v];
			if (!st->units[i].movable)
				ok = 0;
			if (stamp[i] != s + 1) {
				stamp[i] = s + 1;
				list[nl++] = i;
			}
		}
		if (!ok || (o->max_moves &&
		    st->plan->nmoves + k > o->max_moves))
			continue;
		qsort_r(list, nl, sizeof(*list), balance_cmp_unit_mem,
		    st->units);
		mark = st->plan->nmoves;
		before = st->plan->nmoves ?
		    st->plan->moves[st->plan->nmoves - 1].score_after :
		    st->plan->score_before;
		for (n = 0; n < nl && ok; n++) {
			u = &st->units[list[n]];
			bestd = BALANCE_END;
			bestfill = -1;
			for (d = 0; d < m->nhosts; d++) {
				if (emptied[d] || d == s ||
				    st->head[d] == BALANCE_END ||
				    !balance_feasible(st, u, d,
				    o->util_ceiling))
					continue;
				fill = (double)(st->gmem[d] + u->mem_mib +
				    m->hosts[d].reserved_mib) /
				    (double)m->hosts[d].mem_mib;
				if (bestd == BALANCE_END ||
				    st->gmem[d] > st->gmem[bestd] ||
				    (st->gmem[d] == st->gmem[bestd] &&
				    fill > bestfill)) {
					bestfill = fill;
					bestd = d;
				}
			}
			if (bestd == BALANCE_END) {
				ok = 0;
				break;
			}
			if (balance_move_unit(st, u, bestd) == -1)
				goto out;
			u->host = bestd;
		}
		/* Every move must lower the score: one that spreads memory
		 * (onto a host holding less than the source keeps) gains
		 * nothing on its own, so the host is left as it is. */
		for (n = mark; ok && n < st->plan->nmoves; n++)
			if (st->plan->moves[n].score_after >= (n == mark ?
			    before : st->plan->moves[n - 1].score_after))
				ok = 0;
		if (ok) {
			emptied[s] = 1;
			for (n = mark; n < st->plan->nmoves; n++)
				received[st->plan->moves[n].to] = 1;
			continue;
		}
		/* Put back what was placed of this host. */
		while (st->plan->nmoves > mark) {
			mv = &st->plan->moves[--st->plan->nmoves];
			st->plan->memory_moved_mib -= mv->mem_mib;
			balance_move_vm(st, mv->vm, mv->from);
			st->units[st->unit_of[mv->vm]].host = mv->from;
		}
	}
	rc = 0;
 out:
	free(tried);
	free(emptied);
	free(received);
	free(list);
	free(stamp);
	return rc;
}
