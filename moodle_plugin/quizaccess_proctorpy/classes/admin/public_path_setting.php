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

namespace quizaccess_proctorpy\admin;

use quizaccess_proctorpy\direct_upload;

/**
 * The public path setting: a text field accepting only what direct upload will use.
 *
 * admin_setting_configtext takes a regular expression as its parameter type only in the form
 * /pattern/, and a path check of that form could not also refuse . and .. segments; so this
 * setting validates with direct_upload::is_valid_path(), the same check capture_config() makes.
 *
 * @package    quizaccess_proctorpy
 * @category   admin
 * @copyright  2026 The proctorpy authors
 * @license    https://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 */
class public_path_setting extends \admin_setting_configtext {
    /**
     * A text setting for a path on the Moodle host.
     *
     * @param string $name 'quizaccess_proctorpy/publicpath'
     * @param string $visiblename localised name
     * @param string $description localised description
     * @param string $defaultsetting default path
     */
    public function __construct($name, $visiblename, $description, $defaultsetting) {
        // PARAM_RAW only so that the field is shown left to right; validate() does the checking.
        parent::__construct($name, $visiblename, $description, $defaultsetting, PARAM_RAW);
    }

    /**
     * Accept an absolute path of plain segments, e.g. /proctorpy/.
     *
     * @param string $data the submitted value
     * @return true|string true if valid, else the error shown beside the field
     */
    public function validate($data) {
        if (direct_upload::is_valid_path((string) $data)) {
            return true;
        }
        return get_string('publicpath_invalid', 'quizaccess_proctorpy');
    }
}
