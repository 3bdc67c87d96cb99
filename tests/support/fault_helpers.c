/* fault_helpers.c - the teardown that disarms injected faults (see
 * fault_helpers.h).  Stateless.
 */
#include "fault_helpers.h"

#include "sys/fault.h"

int fh_disarm(void **state)
{
    (void)state;
    mgov__fault_disarm_all();
    return 0;
}
