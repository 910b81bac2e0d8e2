<?php
// This file is part of Moodle - https://moodle.org/
//
// Moodle is free software: you can redistribute it and/or modify
// it under the terms of the GNU General Public License as published by
// the Free Software Foundation, either version 3 of the License, or
// (at your option) any later version.
//
// Moodle is distributed in the hope that it will be useful,
// but WITHOUT ANY WARRANTY; without even the implied warranty of
// MERCHANTABILITY or FITNESS FOR A PARTICULAR PURPOSE.  See the
// GNU General Public License for more details.
//
// You should have received a copy of the GNU General Public License
// along with Moodle.  If not, see <https://www.gnu.org/licenses/>.

/**
 * The words and limits the plugin shares with the sidecar's API.
 *
 * @package    quizaccess_proctorpy
 * @copyright  2026 The proctorpy authors
 * @license    https://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 */

namespace quizaccess_proctorpy;

/**
 * Event types, camshot kinds and key lengths the sidecar accepts; the verdicts and problems its live view names.
 *
 * They must equal the sidecar's OpenAPI document (GET /api/v1/openapi.json); the sidecar's test
 * suite compares the two, so a word added on one side only fails there before it fails a student.
 */
class vocabulary {
    /** Browser events the capture script reports and the sidecar records. */
    const EVENT_TYPES = ['focus_lost', 'focus_back', 'tab_hidden', 'tab_visible', 'camera_lost', 'camera_back',
        'fullscreen_exit', 'upload_failed', 'upload_back', 'direct_fallback'];

    /** Camshots the capture routes take: those of the attempt. The identity photo has its own call. */
    const CAMSHOT_KINDS = ['attempt'];

    /** Longest idempotency key (client shot or event id) the sidecar takes. */
    const CLIENT_KEY_MAX_LENGTH = 64;

    /** A camshot's verdict in the live view: the violation it counts as, else its analysis status. */
    const LIVE_VERDICTS = ['ok', 'pending', 'unreadable', 'no_face', 'multiple_faces', 'mismatch', 'substitution'];

    /** What can be wrong with an attempt in progress, most serious first, as the live view orders its tiles. */
    const LIVE_PROBLEMS = ['substitution', 'reference_changed', 'mismatch', 'multiple_faces', 'no_face', 'camera_quiet',
        'below_threshold', 'left_page'];

    /** Seconds before the attempt's start that a camshot's or event's time may lie (the camera check comes first). */
    const CAPTURE_EARLIEST_BEFORE_START = 300;

    /** Seconds past the server's clock that a camshot's or event's time may lie. */
    const CAPTURE_LATEST_AHEAD = 120;
}
