#define _GNU_SOURCE
#include "gh_v4l2.h"
#include <fcntl.h>
#include <libv4l2.h>
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>

const unsigned long GH_VIDIOC_QUERYCAP = VIDIOC_QUERYCAP;
const unsigned long GH_VIDIOC_S_FMT = VIDIOC_S_FMT;
const unsigned long GH_VIDIOC_G_FMT = VIDIOC_G_FMT;
const unsigned long GH_VIDIOC_S_PARM = VIDIOC_S_PARM;
const unsigned long GH_VIDIOC_REQBUFS = VIDIOC_REQBUFS;
const unsigned long GH_VIDIOC_QUERYBUF = VIDIOC_QUERYBUF;
const unsigned long GH_VIDIOC_QBUF = VIDIOC_QBUF;
const unsigned long GH_VIDIOC_DQBUF = VIDIOC_DQBUF;
const unsigned long GH_VIDIOC_STREAMON = VIDIOC_STREAMON;
const unsigned long GH_VIDIOC_STREAMOFF = VIDIOC_STREAMOFF;
const uint32_t GH_V4L2_PIX_FMT_GREY = V4L2_PIX_FMT_GREY;

int gh_v4l2_open(const char *path, int flags) { return v4l2_open(path, flags); }
int gh_v4l2_close(int fd) { return v4l2_close(fd); }
int gh_v4l2_ioctl(int fd, unsigned long request, void *argument) { return v4l2_ioctl(fd, request, argument); }
void *gh_v4l2_mmap(size_t length, int fd, int64_t offset) {
    return v4l2_mmap(NULL, length, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)offset);
}
int gh_v4l2_munmap(void *start, size_t length) { return v4l2_munmap(start, length); }
void *gh_map_failed(void) { return MAP_FAILED; }

void gh_name_this_thread(const char *name) {
    char shortened[16];
    strncpy(shortened, name, sizeof shortened - 1);
    shortened[sizeof shortened - 1] = 0;
    pthread_setname_np(pthread_self(), shortened);
}
