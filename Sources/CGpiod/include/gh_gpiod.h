#ifndef GATEHOUSE_GPIOD_H
#define GATEHOUSE_GPIOD_H
// One output line through libgpiod, the same four calls for libgpiod 1.x (Debian 12, Raspberry
// Pi OS bookworm) and 2.x (Debian 13, trixie), whose APIs differ completely. The branch is picked
// at compile time from the header (see gh_gpiod.c); callers never see which.

typedef struct gh_gpio_output gh_gpio_output;

// Requests `offset` on `chip` (a path such as /dev/gpiochip0, or a name such as gpiochip0) as an
// output with the given initial logical value. Returns NULL and sets *error_number on failure
// (ENOENT no chip, EINVAL no such line, EBUSY line held by another consumer, EACCES).
gh_gpio_output *gh_gpio_request_output(const char *chip, unsigned int offset, int active_low,
                                       int initial_value, const char *consumer, int *error_number);
// Sets the logical value (1 = active). Returns 0, or -errno.
int gh_gpio_set(gh_gpio_output *output, int value);
// Releases the line and closes the chip. The line's level afterwards is up to the kernel:
// callers drive it to its safe state first.
void gh_gpio_release(gh_gpio_output *output);
// One input line with edge events, for a contact (a fire panel's relay, a turnstile's rotation
// switch). Requested for both edges; the caller waits for an edge, then reads the level.
typedef struct gh_gpio_input gh_gpio_input;

// Requests `offset` as an input with edge detection on both edges. Errors as for outputs.
gh_gpio_input *gh_gpio_request_input(const char *chip, unsigned int offset, int active_low,
                                     const char *consumer, int *error_number);
// Waits up to `timeout_ms` for edges and consumes all that are pending. Returns 1 when there
// was at least one, 0 on timeout, or -errno.
int gh_gpio_wait_edges(gh_gpio_input *input, int timeout_ms);
// The logical level now (1 = active), or -errno.
int gh_gpio_get(gh_gpio_input *input);
void gh_gpio_release_input(gh_gpio_input *input);

// 1 or 2: which libgpiod API this build uses (for selftest output).
int gh_gpio_api_version(void);
#endif
