/* A user of an installed memgov: builds against the installed headers and
 * library only, and prints the library's version and one status message. */
#include <memgov.h>
#include <stdio.h>

int main(void)
{
    printf("memgov %s\n", mgov_version());
    printf("MGOV_EBUDGET: %s\n", mgov_strerror(MGOV_EBUDGET));
    return 0;
}
