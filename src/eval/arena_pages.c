/* The arena's pages (web/arena.html, web/expert.html) inside the binary, so
 * the server needs no files and the pages no network. CMake rebuilds this
 * file when a page changes. */
#define EMBED(sym, file)                                                                                                     \
    __asm__(".section .rodata\n"                                                                                             \
            ".global " #sym "\n"                                                                                             \
            ".type " #sym ", @object\n" #sym ":\n"                                                                           \
            ".incbin \"" DK_WEB_DIR "/" file "\"\n"                                                                          \
            ".byte 0\n"                                                                                                      \
            ".size " #sym ", . - " #sym "\n"                                                                                 \
            ".previous\n")

EMBED(dk_arena_page_html, "arena.html");
EMBED(dk_expert_page_html, "expert.html");
