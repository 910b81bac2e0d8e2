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
 * Callbacks of the proctorpy quiz access rule.
 *
 * @package    quizaccess_proctorpy
 * @copyright  2026 The proctorpy authors
 * @license    https://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 */

use quizaccess_proctorpy\local\image_proxy;
use quizaccess_proctorpy\local\page_access;

/**
 * Serve a camshot or reference photo of an attempt, from the sidecar, with the checks of image.php.
 *
 * Addresses: /<quiz context id>/quizaccess_proctorpy/<thumb|camshot>/<attempt id>/<camshot id>.png, through
 * pluginfile.php for a logged-in user or webservice/pluginfile.php with a token (the web service functions
 * give these). Thumbnails need the right to view the quiz's proctoring reports, full-size camshots the right
 * to download images too; in separate groups the attempt's student must share a group with the viewer.
 *
 * @param stdClass $course the course
 * @param stdClass $cm the course module
 * @param context $context the context
 * @param string $filearea thumb or camshot
 * @param array $args attempt id and file name
 * @param bool $forcedownload send as an attachment
 * @param array $options unused
 * @return bool false when the address is not one of these images; otherwise the file is sent and the script ends
 */
function quizaccess_proctorpy_pluginfile($course, $cm, $context, $filearea, $args, $forcedownload, array $options = []) {
    if (
        $context->contextlevel != CONTEXT_MODULE || !$cm || !in_array($filearea, [image_proxy::AREA_THUMB,
            image_proxy::AREA_IMAGE], true) || count($args) !== 2 || !preg_match('/^([A-Za-z0-9_-]{1,64})\.png$/', $args[1], $m)
    ) {
        return false;
    }
    require_login($course, false, $cm, false, true);
    $cminfo = get_fast_modinfo($course)->get_cm($cm->id);
    if ($cminfo->modname !== 'quiz') {
        return false;
    }
    $thumb = $filearea === image_proxy::AREA_THUMB;
    page_access::require_image(page_access::require_report_viewer($cminfo), $thumb);
    image_proxy::send($cminfo, (int) $args[0], $m[1], $thumb, (bool) $forcedownload);
    return false;
}
