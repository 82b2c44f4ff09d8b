#include "gh_gpiod.h"
#include <errno.h>
#include <gpiod.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

// Only the 1.x header defines GPIOD_LINE_BULK_MAX_LINES; gpiod.h has no version macro.
#ifdef GPIOD_LINE_BULK_MAX_LINES

struct gh_gpio_output {
    struct gpiod_chip *chip;
    struct gpiod_line *line;
};

int gh_gpio_api_version(void) { return 1; }

gh_gpio_output *gh_gpio_request_output(const char *chip_name, unsigned int offset, int active_low,
                                       int initial_value, const char *consumer, int *error_number) {
    struct gpiod_chip *chip = gpiod_chip_open_lookup(chip_name);
    if (!chip) { *error_number = errno ? errno : ENOENT; return NULL; }
    struct gpiod_line *line = gpiod_chip_get_line(chip, offset);
    if (!line) { *error_number = errno ? errno : EINVAL; gpiod_chip_close(chip); return NULL; }
    int flags = active_low ? GPIOD_LINE_REQUEST_FLAG_ACTIVE_LOW : 0;
    if (gpiod_line_request_output_flags(line, consumer, flags, initial_value ? 1 : 0) < 0) {
        *error_number = errno ? errno : EBUSY;
        gpiod_chip_close(chip);
        return NULL;
    }
    gh_gpio_output *output = calloc(1, sizeof *output);
    if (!output) { *error_number = ENOMEM; gpiod_line_release(line); gpiod_chip_close(chip); return NULL; }
    output->chip = chip;
    output->line = line;
    return output;
}

int gh_gpio_set(gh_gpio_output *output, int value) {
    return gpiod_line_set_value(output->line, value ? 1 : 0) < 0 ? -errno : 0;
}

void gh_gpio_release(gh_gpio_output *output) {
    if (!output) return;
    gpiod_line_release(output->line);
    gpiod_chip_close(output->chip);
    free(output);
}

struct gh_gpio_input {
    struct gpiod_chip *chip;
    struct gpiod_line *line;
};

gh_gpio_input *gh_gpio_request_input(const char *chip_name, unsigned int offset, int active_low,
                                     const char *consumer, int *error_number) {
    struct gpiod_chip *chip = gpiod_chip_open_lookup(chip_name);
    if (!chip) { *error_number = errno ? errno : ENOENT; return NULL; }
    struct gpiod_line *line = gpiod_chip_get_line(chip, offset);
    if (!line) { *error_number = errno ? errno : EINVAL; gpiod_chip_close(chip); return NULL; }
    int flags = active_low ? GPIOD_LINE_REQUEST_FLAG_ACTIVE_LOW : 0;
    if (gpiod_line_request_both_edges_events_flags(line, consumer, flags) < 0) {
        *error_number = errno ? errno : EBUSY;
        gpiod_chip_close(chip);
        return NULL;
    }
    gh_gpio_input *input = calloc(1, sizeof *input);
    if (!input) { *error_number = ENOMEM; gpiod_line_release(line); gpiod_chip_close(chip); return NULL; }
    input->chip = chip;
    input->line = line;
    return input;
}

int gh_gpio_wait_edges(gh_gpio_input *input, int timeout_ms) {
    struct timespec timeout = { timeout_ms / 1000, (long)(timeout_ms % 1000) * 1000000L };
    int ready = gpiod_line_event_wait(input->line, &timeout);
    if (ready <= 0) return ready < 0 ? -errno : 0;
    // Drain what is queued: the caller reads the level once.
    struct timespec none = { 0, 0 };
    do {
        struct gpiod_line_event event;
        if (gpiod_line_event_read(input->line, &event) < 0) return -errno;
    } while (gpiod_line_event_wait(input->line, &none) == 1);
    return 1;
}

int gh_gpio_get(gh_gpio_input *input) {
    int value = gpiod_line_get_value(input->line);
    return value < 0 ? -errno : value;
}

void gh_gpio_release_input(gh_gpio_input *input) {
    if (!input) return;
    gpiod_line_release(input->line);
    gpiod_chip_close(input->chip);
    free(input);
}

#else  // libgpiod 2.x

#include <stdio.h>

struct gh_gpio_output {
    struct gpiod_line_request *request;
    unsigned int offset;
};

int gh_gpio_api_version(void) { return 2; }

static struct gpiod_chip *open_chip(const char *chip_name) {
    // 2.x opens by path only; accept the short names technicians read in gpiodetect.
    if (chip_name[0] == '/') return gpiod_chip_open(chip_name);
    char path[256];
    snprintf(path, sizeof path, "/dev/%s", chip_name);
    return gpiod_chip_open(path);
}

// Requests one line with the direction (and, for an output, the initial value or, for an
// input, edge detection on both edges) the caller asks for. NULL and *error_number on failure.
static struct gpiod_line_request *request_line(const char *chip_name, unsigned int offset, int active_low, int output,
                                               int initial_value, const char *consumer, int *error_number) {
    struct gpiod_line_request *request = NULL;
    struct gpiod_chip *chip = open_chip(chip_name);
    if (!chip) { *error_number = errno ? errno : ENOENT; return NULL; }
    struct gpiod_line_settings *settings = gpiod_line_settings_new();
    struct gpiod_line_config *line_config = gpiod_line_config_new();
    struct gpiod_request_config *request_config = gpiod_request_config_new();
    if (!settings || !line_config || !request_config) {
        *error_number = ENOMEM;
    } else {
        if (output) {
            gpiod_line_settings_set_direction(settings, GPIOD_LINE_DIRECTION_OUTPUT);
            gpiod_line_settings_set_output_value(settings, initial_value ? GPIOD_LINE_VALUE_ACTIVE : GPIOD_LINE_VALUE_INACTIVE);
        } else {
            gpiod_line_settings_set_direction(settings, GPIOD_LINE_DIRECTION_INPUT);
            gpiod_line_settings_set_edge_detection(settings, GPIOD_LINE_EDGE_BOTH);
        }
        gpiod_line_settings_set_active_low(settings, active_low ? true : false);
        if (gpiod_line_config_add_line_settings(line_config, &offset, 1, settings) < 0) {
            *error_number = errno ? errno : EINVAL;
        } else {
            gpiod_request_config_set_consumer(request_config, consumer);
            request = gpiod_chip_request_lines(chip, request_config, line_config);
            if (!request) *error_number = errno ? errno : EBUSY;
        }
    }
    if (request_config) gpiod_request_config_free(request_config);
    if (line_config) gpiod_line_config_free(line_config);
    if (settings) gpiod_line_settings_free(settings);
    // A 2.x request outlives its chip handle.
    gpiod_chip_close(chip);
    return request;
}

gh_gpio_output *gh_gpio_request_output(const char *chip_name, unsigned int offset, int active_low,
                                       int initial_value, const char *consumer, int *error_number) {
    gh_gpio_output *output = calloc(1, sizeof *output);
    if (!output) { *error_number = ENOMEM; return NULL; }
    output->request = request_line(chip_name, offset, active_low, 1, initial_value, consumer, error_number);
    if (!output->request) { free(output); return NULL; }
    output->offset = offset;
    return output;
}

int gh_gpio_set(gh_gpio_output *output, int value) {
    return gpiod_line_request_set_value(output->request, output->offset,
                                        value ? GPIOD_LINE_VALUE_ACTIVE : GPIOD_LINE_VALUE_INACTIVE) < 0 ? -errno : 0;
}

void gh_gpio_release(gh_gpio_output *output) {
    if (!output) return;
    gpiod_line_request_release(output->request);
    free(output);
}

struct gh_gpio_input {
    struct gpiod_line_request *request;
    struct gpiod_edge_event_buffer *events;
    unsigned int offset;
};

gh_gpio_input *gh_gpio_request_input(const char *chip_name, unsigned int offset, int active_low,
                                     const char *consumer, int *error_number) {
    gh_gpio_input *input = calloc(1, sizeof *input);
    if (!input) { *error_number = ENOMEM; return NULL; }
    input->events = gpiod_edge_event_buffer_new(16);
    if (!input->events) { *error_number = ENOMEM; free(input); return NULL; }
    input->request = request_line(chip_name, offset, active_low, 0, 0, consumer, error_number);
    if (!input->request) { gpiod_edge_event_buffer_free(input->events); free(input); return NULL; }
    input->offset = offset;
    return input;
}

int gh_gpio_wait_edges(gh_gpio_input *input, int timeout_ms) {
    int ready = gpiod_line_request_wait_edge_events(input->request, (int64_t)timeout_ms * 1000000LL);
    if (ready <= 0) return ready < 0 ? -errno : 0;
    // Drain what is queued: the caller reads the level once.
    do {
        if (gpiod_line_request_read_edge_events(input->request, input->events, 16) < 0) return -errno;
    } while (gpiod_line_request_wait_edge_events(input->request, 0) == 1);
    return 1;
}

int gh_gpio_get(gh_gpio_input *input) {
    enum gpiod_line_value value = gpiod_line_request_get_value(input->request, input->offset);
    return value == GPIOD_LINE_VALUE_ERROR ? -errno : (value == GPIOD_LINE_VALUE_ACTIVE ? 1 : 0);
}

void gh_gpio_release_input(gh_gpio_input *input) {
    if (!input) return;
    gpiod_line_request_release(input->request);
    gpiod_edge_event_buffer_free(input->events);
    free(input);
}

#endif
