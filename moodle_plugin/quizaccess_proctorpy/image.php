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

use quizaccess_proctorpy\image_link;
use quizaccess_proctorpy\local\image_proxy;
use quizaccess_proctorpy\local\page_access;

$link = image_link::parse((string) get_file_argument(), optional_param('size', '', PARAM_ALPHA) === 'thumb');
if (!$link) {
    send_file_not_found();
}

[$course, $cm] = get_course_and_cm_from_cmid($link['cmid'], 'quiz');
require_login($course, false, $cm, false, true);
$context = page_access::require_report_viewer($cm);
page_access::require_image($context, $link['thumb']);
image_proxy::send($cm, $link['attemptid'], $link['camshotid'], $link['thumb']);
