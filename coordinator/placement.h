/* placement.h: the live cluster as a placement model (planner/place.h), built
 * from the coordinator's hosts, inventories, jobs in flight and
 * configuration, for every caller that chooses a destination. */
#ifndef FERRY_PLACEMENT_H
#define FERRY_PLACEMENT_H

#include "msg.h"
#include "place.h"

struct coord;

/* The model borrows the coordinator's strings (configuration, inventory):
 * use it within one loop callback and free it there. */
struct placement {
	struct place_model	  m;
	struct host		**hosts;	/* model host i: co->hosts[i] */
	char			**vm_names;	/* borrowed from inventories */
	size_t			 *sorted;	/* VM indices by name */
};

/* placement.c */
int	 placement_build(struct coord *, struct placement **, char *err,
	    size_t errlen);
void	 placement_free(struct placement *);
size_t	 placement_find_vm(const struct placement *, const char *name);
/* Best destination for vm now, or PLACE_NONE with every host's reason
 * (place_summary) in why. */
size_t	 placement_choose(struct coord *, const char *vm, char *why,
	    size_t len);

/* ferryctl place: every host's verdict for vm; the reply owns its strings
 * (placement_reply_free). */
int	 placement_reply(struct coord *, const char *vm, Ferry__PlaceReply **,
	    char *err, size_t errlen);
void	 placement_reply_free(Ferry__PlaceReply *);

#endif
