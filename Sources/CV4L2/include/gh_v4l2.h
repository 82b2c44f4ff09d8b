#ifndef GATEHOUSE_V4L2_H
#define GATEHOUSE_V4L2_H
// V4L2 for Swift: the ioctl numbers and fourccs are function-like macros Swift cannot import,
// and v4l2_ioctl is variadic, which Swift cannot call. This shim exposes them as constants and
// typed functions. Everything goes through libv4l2 (never plain ioctl on the same fd), so cameras
// that only speak MJPEG or YUYV still hand us 8-bit grey.
#include <linux/videodev2.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

extern const unsigned long GH_VIDIOC_QUERYCAP;
extern const unsigned long GH_VIDIOC_S_FMT;
extern const unsigned long GH_VIDIOC_G_FMT;
extern const unsigned long GH_VIDIOC_S_PARM;
extern const unsigned long GH_VIDIOC_REQBUFS;
extern const unsigned long GH_VIDIOC_QUERYBUF;
extern const unsigned long GH_VIDIOC_QBUF;
extern const unsigned long GH_VIDIOC_DQBUF;
extern const unsigned long GH_VIDIOC_STREAMON;
extern const unsigned long GH_VIDIOC_STREAMOFF;
extern const uint32_t GH_V4L2_PIX_FMT_GREY;

// libv4l2 calls with fixed argument types. Each returns what libv4l2 returns; errno is set on -1.
int gh_v4l2_open(const char *path, int flags);
int gh_v4l2_close(int fd);
int gh_v4l2_ioctl(int fd, unsigned long request, void *argument);
void *gh_v4l2_mmap(size_t length, int fd, int64_t offset);
int gh_v4l2_munmap(void *start, size_t length);
// MAP_FAILED is a macro around a cast; Swift compares against this.
void *gh_map_failed(void);
// Names the calling thread (the capture thread, for top -H and ps); at most 15 characters kept.
void gh_name_this_thread(const char *name);
#endif
