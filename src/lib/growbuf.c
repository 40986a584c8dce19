/* growbuf.c - see growbuf.h. */
#include "growbuf.h"

#include <stdlib.h>
#include <string.h>

bool growbuf_append(struct growbuf *b, const void *p, size_t n)
{
	size_t cap;
	char *grown;

	if (n > b->max || b->len > b->max - n) {
		b->too_big = true;
		return false;
	}
	if (b->len + n + 1 > b->cap) {
		cap = b->cap == 0 ? 4096 : b->cap;
		while (cap < b->len + n + 1)
			cap *= 2;
		grown = realloc(b->data, cap);
		if (grown == NULL)
			return false;
		b->data = grown;
		b->cap = cap;
	}
	if (n > 0)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return true;
}

size_t growbuf_curl_write(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	size_t n = size * nmemb;

	return growbuf_append(userdata, ptr, n) ? n : 0;
}
