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
 * Helpers of the upgrade steps of the proctorpy quiz access rule, apart so that tests can run them.
 *
 * @package    quizaccess_proctorpy
 * @copyright  2026 The proctorpy authors
 * @license    https://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 */

/**
 * Make the popup the only default output of the flagged attempt alert on a site that kept the former default, popup
 * and email.
 *
 * Moodle applies db/messages.php's defaults when a message provider is first installed, never to an existing one,
 * so a site installed before email became opt-in keeps emailing every report viewer. A site whose administrator
 * chose other outputs keeps them, and so does every user who set their own preference.
 */
function quizaccess_proctorpy_alerts_popup_by_default(): void {
    $name = 'message_provider_quizaccess_proctorpy_attemptflagged_enabled';
    $enabled = explode(',', (string) get_config('message', $name));
    sort($enabled);
    if ($enabled === ['email', 'popup']) {
        set_config($name, 'popup', 'message');
    }
}
