/* A user of an installed memgov: builds against the installed headers and
 * library only, and prints the library's version, one status message and
 * the spill codecs it has (which makes a static link pull in the codec
 * libraries). */
#include <memgov.h>
#include <stdio.h>

int main(void)
{
    printf("memgov %s\n", mgov_version());
    printf("MGOV_EBUDGET: %s\n", mgov_strerror(MGOV_EBUDGET));
    printf("codecs: %s %s, %s %s\n", mgov_codec_name(MGOV_CODEC_LZ4),
           mgov_codec_available(MGOV_CODEC_LZ4) ? "yes" : "no", mgov_codec_name(MGOV_CODEC_ZSTD),
           mgov_codec_available(MGOV_CODEC_ZSTD) ? "yes" : "no");
    return 0;
}
