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
 * A signed JSON call to the sidecar, retried by Moodle's task runner.
 *
 * @package    quizaccess_proctorpy
 * @copyright  2026 The proctorpy authors
 * @license    https://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 */

namespace quizaccess_proctorpy\task;

use quizaccess_proctorpy\sidecar_client;
use quizaccess_proctorpy\sidecar_exception;

/**
 * Carries a notice to the sidecar that must not be lost when the sidecar is down: the end of an
 * attempt that the observer could not deliver at once, and purges, which are never sent during
 * the Moodle request that caused them.
 *
 * Custom data: method, path, body (object). A transient failure throws, so the task runner
 * retries with its own backoff; a refusal (4xx) is final and only logged.
 */
class sidecar_call extends \core\task\adhoc_task {
    /**
     * Queue a call.
     *
     * @param string $method HTTP method
     * @param string $path API path
     * @param array $body JSON body
     */
    public static function queue(string $method, string $path, array $body): void {
        $task = new self();
        $task->set_custom_data(['method' => $method, 'path' => $path, 'body' => $body]);
        \core\task\manager::queue_adhoc_task($task);
    }

    /**
     * Name shown in the task logs.
     *
     * @return string
     */
    public function get_name() {
        return get_string('task_sidecarcall', 'quizaccess_proctorpy');
    }

    /**
     * Make the call.
     *
     * @throws sidecar_exception when it may succeed later
     */
    public function execute() {
        $data = $this->get_custom_data();
        try {
            sidecar_client::from_config()->json($data->method, $data->path, json_decode(json_encode($data->body), true));
            mtrace('proctorpy: ' . $data->method . ' ' . $data->path . ' done');
        } catch (sidecar_exception $e) {
            if ($e->is_transient()) {
                throw $e;
            }
            mtrace('proctorpy: ' . $data->method . ' ' . $data->path . ' refused: ' . $e->getMessage());
        }
    }
}
