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
 * Opens the sidecar console for a site administrator by a one-time signed link.
 *
 * @package    quizaccess_proctorpy
 * @copyright  2026 The proctorpy authors
 * @license    https://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 */

require_once(__DIR__ . '/../../../../config.php');

use quizaccess_proctorpy\api;
use quizaccess_proctorpy\local\page_access;
use quizaccess_proctorpy\signer;

require_login();
$systemcontext = page_access::require_site_admin();
$PAGE->set_context($systemcontext);
$PAGE->set_url(new moodle_url('/mod/quiz/accessrule/proctorpy/console.php'));
$PAGE->set_pagelayout('admin');
$PAGE->set_title(get_string('openconsole', 'quizaccess_proctorpy'));

$config = get_config('quizaccess_proctorpy');
// The token lives a minute and carries a nonce, so the console accepts it once, right now.
$token = (new signer((string) $config->secret))->token([
    'p' => 'sso',
    'uid' => (int) $USER->id,
    'name' => fullname($USER),
    'exp' => time() + 60,
    'n' => bin2hex(random_bytes(8)),
]);
redirect(new moodle_url(api::console_sso($config->consoleurl ?: $config->sidecarurl, $token)));
