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
 * Test connection: calls the sidecar and says what works or what is wrong.
 *
 * @package    quizaccess_proctorpy
 * @copyright  2026 The proctorpy authors
 * @license    https://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 */

require_once(__DIR__ . '/../../../../config.php');

use quizaccess_proctorpy\connection_check;
use quizaccess_proctorpy\direct_upload;
use quizaccess_proctorpy\local\moodle_transport;
use quizaccess_proctorpy\sidecar_client;

require_login();
$systemcontext = context_system::instance();
require_capability('moodle/site:config', $systemcontext);
$PAGE->set_context($systemcontext);
$PAGE->set_url(new moodle_url('/mod/quiz/accessrule/proctorpy/testconnection.php'));
$PAGE->set_pagelayout('admin');
$PAGE->set_title(get_string('testconnection', 'quizaccess_proctorpy'));

$client = sidecar_client::from_config();
$result = (new connection_check($client))->run();
$ok = $result['problem'] === 'ok';

echo $OUTPUT->header();
echo $OUTPUT->heading(get_string('testconnection', 'quizaccess_proctorpy'));
echo $OUTPUT->notification(
    connection_check::message('connection_', $result),
    $ok ? \core\output\notification::NOTIFY_SUCCESS : \core\output\notification::NOTIFY_ERROR
);
if ($ok && !connection_check::releases_match($result['details']['version'], $result['details']['release'])) {
    echo $OUTPUT->notification(
        connection_check::message('connection_', ['problem' => 'releasemismatch', 'details' => $result['details']]),
        \core\output\notification::NOTIFY_WARNING
    );
}
if (connection_check::plain_http_off_host($client->base_url())) {
    echo $OUTPUT->notification(
        get_string('connection_plainhttp', 'quizaccess_proctorpy', s($client->base_url())),
        \core\output\notification::NOTIFY_WARNING
    );
}
$config = get_config('quizaccess_proctorpy');
$consoleurl = (string) ($config->consoleurl ?? '');
if (connection_check::console_link_stays_local($consoleurl, $client->base_url(), $CFG->wwwroot)) {
    echo $OUTPUT->notification(
        get_string('connection_consoleurl', 'quizaccess_proctorpy', (object) [
            'console' => s($consoleurl !== '' ? $consoleurl : $client->base_url()),
            'site' => s($CFG->wwwroot),
        ]),
        \core\output\notification::NOTIFY_WARNING
    );
}
if (($config->uploadmode ?? '') === direct_upload::MODE_DIRECT) {
    $publicurl = direct_upload::public_url($CFG->wwwroot, (string) ($config->publicpath ?? direct_upload::DEFAULT_PATH));
    $direct = connection_check::check_public_path(
        new moodle_transport(!empty($config->bypasscurlsecurity)),
        $publicurl,
        max(1, (int) ($config->requesttimeout ?? 10))
    );
    echo $OUTPUT->notification(
        connection_check::message('directcheck_', $direct),
        $direct['problem'] === 'ok' ? \core\output\notification::NOTIFY_SUCCESS : \core\output\notification::NOTIFY_ERROR
    );
}
echo $OUTPUT->continue_button(new moodle_url('/admin/settings.php', ['section' => 'modsettingsquizcatproctorpy']));
echo $OUTPUT->footer();
