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
 * Streams one camshot or reference photo from the sidecar, after checking the viewer may see it.
 *
 * @package    quizaccess_proctorpy
 * @copyright  2026 The proctorpy authors
 * @license    https://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 */

// A PHP notice must never end up inside the image bytes.
define('NO_DEBUG_DISPLAY', true);

require_once(__DIR__ . '/../../../../config.php');

use quizaccess_proctorpy\api;
use quizaccess_proctorpy\image_link;
use quizaccess_proctorpy\local\page_access;
use quizaccess_proctorpy\sidecar_client;

$link = image_link::parse((string) get_file_argument(), optional_param('size', '', PARAM_ALPHA) === 'thumb');
if (!$link) {
    send_file_not_found();
}

[$course, $cm] = get_course_and_cm_from_cmid($link['cmid'], 'quiz');
require_login($course, false, $cm, false, true);
$context = page_access::require_report_viewer($cm);
page_access::require_image($context, $link['thumb']);
page_access::attempt_of_quiz($link['attemptid'], $cm);

$client = sidecar_client::from_config();
$actor = api::actor((int) $USER->id, fullname($USER));

// The image must be one the attempt's report shows: one of its camshots or reference photos. The
// attempt's list of images is kept in the session so that a grid of thumbnails costs one lookup,
// and refreshed when an id is not in it.
$ids = $SESSION->quizaccess_proctorpy_shots[$link['attemptid']] ?? [];
if (!in_array($link['camshotid'], $ids, true)) {
    $ids = image_link::attempt_image_ids($client, $link['attemptid'], $actor);
    $SESSION->quizaccess_proctorpy_shots = [$link['attemptid'] => $ids];
}
if (!in_array($link['camshotid'], $ids, true)) {
    send_file_not_found();
}
\core\session\manager::write_close();

$response = $client->call('GET', api::camshot_image($link['camshotid'], $link['thumb'], $actor));
$mimetype = $response->contenttype === 'image/jpeg' ? 'image/jpeg' : 'image/png';
send_file($response->body, $link['camshotid'] . ($mimetype === 'image/png' ? '.png' : '.jpg'), 0, 0, true, false,
    $mimetype);
