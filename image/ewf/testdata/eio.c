/*
 * eio.c: an LD_PRELOAD shim that makes read(2) and pread64(2) fail with EIO
 * on one file, for byte ranges, so that ewfacquire writes a real error2
 * section (it records read errors only for devices, so the file is a
 * read-only loop device). Used by TestError2Acquired and mkseeds.sh.
 *
 *   EIO_FILE=/dev/loop0 EIO_RANGE=1048576-1049088,1572864-1573376 \
 *   LD_PRELOAD=./eio.so ewfacquire ... /dev/loop0
 *
 * gcc -shared -fPIC -o eio.so eio.c -ldl
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

static int is_target(int fd)
{
	char p[64], b[4096];
	const char *want = getenv("EIO_FILE");
	ssize_t n;

	snprintf(p, sizeof p, "/proc/self/fd/%d", fd);
	n = readlink(p, b, sizeof b - 1);
	if (n < 0 || !want)
		return 0;
	b[n] = 0;
	return strcmp(b, want) == 0;
}

/* bad reports whether [off, off+n) meets one of the EIO_RANGE ranges. */
static int bad(off_t off, size_t n)
{
	const char *s = getenv("EIO_RANGE");
	long long a, b;
	int k;

	while (s && sscanf(s, "%lld-%lld%n", &a, &b, &k) == 2) {
		if (off < b && off + (off_t)n > a)
			return 1;
		s += k;
		if (*s != ',')
			break;
		s++;
	}
	return 0;
}

ssize_t read(int fd, void *buf, size_t n)
{
	static ssize_t (*real)(int, void *, size_t);

	if (!real)
		real = dlsym(RTLD_NEXT, "read");
	if (is_target(fd) && bad(lseek(fd, 0, SEEK_CUR), n)) {
		errno = EIO;
		return -1;
	}
	return real(fd, buf, n);
}

ssize_t pread64(int fd, void *buf, size_t n, off_t off)
{
	static ssize_t (*real)(int, void *, size_t, off_t);

	if (!real)
		real = dlsym(RTLD_NEXT, "pread64");
	if (is_target(fd) && bad(off, n)) {
		errno = EIO;
		return -1;
	}
	return real(fd, buf, n, off);
}
