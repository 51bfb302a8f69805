/* The chat page (web/chat.html) inside the binary, so the server needs no
 * files and the page no CDN. CMake rebuilds this file when the page changes. */
__asm__(".section .rodata\n"
        ".global dk_page_html\n"
        ".type dk_page_html, @object\n"
        "dk_page_html:\n"
        ".incbin \"" DK_WEB_DIR "/chat.html\"\n"
        ".byte 0\n"
        ".size dk_page_html, . - dk_page_html\n"
        ".previous\n");
