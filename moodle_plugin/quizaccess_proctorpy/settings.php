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
 * Site settings of the proctorpy quiz access rule.
 *
 * @package    quizaccess_proctorpy
 * @copyright  2026 The proctorpy authors
 * @license    https://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 */

defined('MOODLE_INTERNAL') || die();

if ($hassiteconfig) {
    $component = 'quizaccess_proctorpy';
    $str = function (string $id) use ($component) {
        return get_string($id, $component);
    };

    // In the order an admin works: where the sidecar is and its secret, saved; then the test of
    // those saved values; then the console's address; then what quizzes default to.
    $settings->add(new admin_setting_heading('quizaccess_proctorpy/sidecarheading', $str('sidecarheading'), ''));
    $settings->add(new admin_setting_configtext(
        'quizaccess_proctorpy/sidecarurl',
        $str('sidecarurl'),
        $str('sidecarurl_desc'),
        'http://127.0.0.1:8765',
        PARAM_URL
    ));
    $settings->add(new admin_setting_configpasswordunmask(
        'quizaccess_proctorpy/secret',
        $str('secret'),
        $str('secret_desc'),
        ''
    ));
    $settings->add(new admin_setting_configcheckbox(
        'quizaccess_proctorpy/bypasscurlsecurity',
        $str('bypasscurlsecurity'),
        $str('bypasscurlsecurity_desc'),
        1
    ));
    $settings->add(new admin_setting_configtext(
        'quizaccess_proctorpy/requesttimeout',
        $str('requesttimeout'),
        $str('requesttimeout_desc'),
        10,
        PARAM_INT
    ));

    // Moodle includes this file only for the full admin tree, so the two admin pages are reached
    // from links here rather than registered as external pages. Test connection reads the saved
    // configuration: a secret pasted above and not saved yet would be lost on the way.
    $settings->add(new admin_setting_heading(
        'quizaccess_proctorpy/testconnectionheading',
        $str('testconnection'),
        html_writer::tag('p', $str('testconnection_savefirst'), ['id' => 'proctorpy-savefirst'])
        . html_writer::link(
            new moodle_url('/mod/quiz/accessrule/proctorpy/testconnection.php'),
            $str('testconnection'),
            ['class' => 'btn btn-secondary', 'aria-describedby' => 'proctorpy-savefirst']
        )
    ));

    $settings->add(new admin_setting_heading(
        'quizaccess_proctorpy/consoleheading',
        $str('consoleheading'),
        html_writer::link(
            new moodle_url('/mod/quiz/accessrule/proctorpy/console.php'),
            $str('openconsole'),
            ['class' => 'btn btn-secondary', 'target' => '_blank']
        )
    ));
    $settings->add(new admin_setting_configtext(
        'quizaccess_proctorpy/consoleurl',
        $str('consoleurl'),
        $str('consoleurl_desc'),
        '',
        PARAM_URL
    ));

    $settings->add(new admin_setting_heading('quizaccess_proctorpy/uploadheading', $str('uploadheading'), ''));
    $settings->add(new admin_setting_configselect(
        'quizaccess_proctorpy/uploadmode',
        $str('uploadmode'),
        $str('uploadmode_desc'),
        quizaccess_proctorpy\direct_upload::MODE_FORWARDED,
        [
            quizaccess_proctorpy\direct_upload::MODE_FORWARDED => $str('uploadmode_forwarded'),
            quizaccess_proctorpy\direct_upload::MODE_DIRECT => $str('uploadmode_direct'),
        ]
    ));
    // Checked as direct upload checks it: a path that would not be used is refused with a reason.
    $settings->add(new quizaccess_proctorpy\admin\public_path_setting(
        'quizaccess_proctorpy/publicpath',
        $str('publicpath'),
        $str('publicpath_desc'),
        quizaccess_proctorpy\direct_upload::DEFAULT_PATH
    ));
    $settings->add(new admin_setting_configduration(
        'quizaccess_proctorpy/tokenlifetime',
        $str('tokenlifetime'),
        $str('tokenlifetime_desc'),
        quizaccess_proctorpy\direct_upload::DEFAULT_MAX_LIFETIME,
        HOURSECS
    ));

    $settings->add(new admin_setting_heading('quizaccess_proctorpy/captureheading', $str('captureheading'), ''));
    $settings->add(new admin_setting_configtext(
        'quizaccess_proctorpy/intervalmin',
        $str('intervalmin'),
        $str('intervalmin_desc'),
        30,
        PARAM_INT
    ));
    $settings->add(new admin_setting_configtext(
        'quizaccess_proctorpy/intervalmax',
        $str('intervalmax'),
        $str('intervalmax_desc'),
        90,
        PARAM_INT
    ));
    $settings->add(new admin_setting_configtext(
        'quizaccess_proctorpy/imagewidth',
        $str('imagewidth'),
        $str('imagewidth_desc'),
        320,
        PARAM_INT
    ));
    $settings->add(new admin_setting_configtext(
        'quizaccess_proctorpy/threshold',
        $str('threshold'),
        $str('threshold_desc'),
        60,
        PARAM_INT
    ));
    $settings->add(new admin_setting_heading('quizaccess_proctorpy/consentheading', $str('consentheading'), ''));
    $settings->add(new admin_setting_confightmleditor(
        'quizaccess_proctorpy/consenttext',
        $str('consenttext'),
        $str('consenttext_desc'),
        ''
    ));
    $settings->add(new admin_setting_configcheckbox(
        'quizaccess_proctorpy/purgeondelete',
        $str('purgeondelete'),
        $str('purgeondelete_desc'),
        1
    ));
}
