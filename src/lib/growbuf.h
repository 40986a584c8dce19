/* growbuf.h - a byte buffer that grows as data arrives, up to a limit, with a NUL kept after the
 * data (so that a text answer can be read as a string): the body of an HTTP answer as libcurl
 * hands it over in pieces (the CLI's API client, the agent). */
#ifndef PATCHPOINT_GROWBUF_H
#define PATCHPOINT_GROWBUF_H

#include <stdbool.h>
#include <stddef.h>

struct growbuf {
	char *data; /* malloc'd, NUL after len bytes; NULL until the first append */
	size_t len, cap;
	size_t max;   /* the most bytes it may hold */
	bool too_big; /* an append went past max (and was refused) */
};

/* Appends n bytes; false when that would pass max (too_big is set) or memory ran out. */
bool growbuf_append(struct growbuf *b, const void *p, size_t n);

/* A libcurl CURLOPT_WRITEFUNCTION over a struct growbuf (userdata): the bytes taken, 0 to stop
 * the transfer. */
size_t growbuf_curl_write(char *ptr, size_t size, size_t nmemb, void *userdata);

#endif
