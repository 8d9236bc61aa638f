#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/types.h>
static int is_target(int fd){char p[64],b[4096];snprintf(p,sizeof p,"/proc/self/fd/%d",fd);ssize_t n=readlink(p,b,sizeof b-1);if(n<0)return 0;b[n]=0;const char*s=getenv("EIO_FILE");return s&&strcmp(b,s)==0;}
static int bad(off_t off,size_t n){const char*s=getenv("EIO_RANGE");if(!s)return 0;long long a,b;if(sscanf(s,"%lld-%lld",&a,&b)!=2)return 0;return off<b&&off+(off_t)n>a;}
ssize_t read(int fd,void*buf,size_t n){static ssize_t(*r)(int,void*,size_t);if(!r)r=dlsym(RTLD_NEXT,"read");
 if(is_target(fd)){off_t o=lseek(fd,0,SEEK_CUR);if(bad(o,n)){errno=EIO;return -1;}} return r(fd,buf,n);}
ssize_t pread64(int fd,void*buf,size_t n,off_t o){static ssize_t(*r)(int,void*,size_t,off_t);if(!r)r=dlsym(RTLD_NEXT,"pread64");
 if(is_target(fd)&&bad(o,n)){errno=EIO;return -1;} return r(fd,buf,n,o);}
