/* The pages blockheap writes, embedded at build time by tools/page/embed.cmake (CMakeLists.txt):
 * not NUL-terminated, with their lengths. */
#ifndef BH_TOOLS_PAGES_H
#define BH_TOOLS_PAGES_H

#include <stddef.h>

/* tools/page/browse.html, the shared stylesheet already in it */
extern const unsigned char bh_browse_template[];
extern const size_t bh_browse_template_len;
/* tools/page/common.css: the rules every page shares (colours, type, tables, legends) */
extern const unsigned char bh_page_common_css[];
extern const size_t bh_page_common_css_len;

#endif
