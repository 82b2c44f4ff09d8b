// The field rig's stand-in for a phone held up to the gate: writes 8-bit grey frames into a
// v4l2loopback device at a steady rate, as a camera would deliver them to the kiosk.
//
//   frame-feeder DEVICE WIDTH HEIGHT FPS
//
// Commands on stdin, one per line:
//   code TEXT   show TEXT as a QR code (libqrencode, error correction M), centred on a light frame
//   blank       show an empty light frame (most of what a gate camera sees)
//   quit        stop writing and close the device (the camera "unplugged")
// After the first frame with new content has been written it prints "shown NS" (CLOCK_MONOTONIC
// in nanoseconds), so the scenarios time the kiosk from the moment the code was in front of it.
// Built on the host, run in the guest (libqrencode.so.4 and glibc are on both).
#include <errno.h>
#include <fcntl.h>
#include <linux/videodev2.h>
#include <poll.h>
#include <qrencode.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

enum { background = 225, ink = 30, quiet_modules = 4 };

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int draw_code(uint8_t *frame, int width, int height, const char *text) {
    memset(frame, background, (size_t)width * height);
    QRcode *code = QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
    if (code == NULL) return -1;
    int modules = code->width + 2 * quiet_modules;
    int scale = (height < width ? height : width) * 3 / 4 / modules;
    if (scale < 2) scale = 2;
    int left = (width - code->width * scale) / 2, top = (height - code->width * scale) / 2;
    for (int y = 0; y < code->width; y++)
        for (int x = 0; x < code->width; x++) {
            if (!(code->data[y * code->width + x] & 1)) continue;
            for (int dy = 0; dy < scale; dy++) {
                int row = top + y * scale + dy, column = left + x * scale;
                if (row < 0 || row >= height || column < 0 || column + scale > width) continue;
                memset(frame + (size_t)row * width + column, ink, (size_t)scale);
            }
        }
    QRcode_free(code);
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: frame-feeder DEVICE WIDTH HEIGHT FPS\n");
        return 64;
    }
    int width = atoi(argv[2]), height = atoi(argv[3]), fps = atoi(argv[4]);
    if (width < 16 || height < 16 || fps < 1 || fps > 120) {
        fprintf(stderr, "frame-feeder: bad size or rate\n");
        return 64;
    }
    int fd = open(argv[1], O_RDWR);
    if (fd < 0) {
        fprintf(stderr, "frame-feeder: open %s: %s\n", argv[1], strerror(errno));
        return 1;
    }
    struct v4l2_format format = {.type = V4L2_BUF_TYPE_VIDEO_OUTPUT};
    format.fmt.pix.width = (uint32_t)width;
    format.fmt.pix.height = (uint32_t)height;
    format.fmt.pix.pixelformat = V4L2_PIX_FMT_GREY;
    format.fmt.pix.field = V4L2_FIELD_NONE;
    format.fmt.pix.bytesperline = (uint32_t)width;
    format.fmt.pix.sizeimage = (uint32_t)(width * height);
    format.fmt.pix.colorspace = V4L2_COLORSPACE_SRGB;
    if (ioctl(fd, VIDIOC_S_FMT, &format) < 0) {
        fprintf(stderr, "frame-feeder: VIDIOC_S_FMT: %s\n", strerror(errno));
        return 1;
    }
    // The rate the reader is told; a refusal only means the reader sees the driver's default.
    struct v4l2_streamparm rate = {.type = V4L2_BUF_TYPE_VIDEO_OUTPUT};
    rate.parm.output.timeperframe.numerator = 1;
    rate.parm.output.timeperframe.denominator = (uint32_t)fps;
    (void)ioctl(fd, VIDIOC_S_PARM, &rate);

    size_t size = (size_t)width * height;
    uint8_t *frame = malloc(size);
    if (frame == NULL) return 1;
    memset(frame, background, size);
    int announce = 0;
    char line[4096];
    size_t used = 0;
    int64_t interval = 1000000000 / fps, next = now_ns();
    setvbuf(stdout, NULL, _IOLBF, 0);
    for (;;) {
        int64_t wait = (next - now_ns()) / 1000000;
        struct pollfd input = {.fd = STDIN_FILENO, .events = POLLIN};
        if (poll(&input, 1, wait > 0 ? (int)wait : 0) > 0) {
            ssize_t got = read(STDIN_FILENO, line + used, sizeof line - 1 - used);
            if (got <= 0) break;  // the scenario script went away: so does the camera
            used += (size_t)got;
            char *end;
            while ((end = memchr(line, '\n', used)) != NULL) {
                *end = 0;
                if (strncmp(line, "code ", 5) == 0) {
                    if (draw_code(frame, width, height, line + 5) != 0) fprintf(stderr, "frame-feeder: cannot encode\n");
                    announce = 1;
                } else if (strcmp(line, "blank") == 0) {
                    memset(frame, background, size);
                    announce = 1;
                } else if (strcmp(line, "quit") == 0) {
                    close(fd);
                    return 0;
                } else {
                    fprintf(stderr, "frame-feeder: unknown command '%s'\n", line);
                }
                used -= (size_t)(end + 1 - line);
                memmove(line, end + 1, used);
            }
            if (used == sizeof line - 1) used = 0;  // an overlong line is dropped, not obeyed
            continue;
        }
        if (write(fd, frame, size) != (ssize_t)size) {
            fprintf(stderr, "frame-feeder: write: %s\n", strerror(errno));
            return 1;
        }
        if (announce) {
            printf("shown %lld\n", (long long)now_ns());
            announce = 0;
        }
        next += interval;
        if (next < now_ns() - interval) next = now_ns();  // fell behind: do not burst to catch up
    }
    close(fd);
    return 0;
}
