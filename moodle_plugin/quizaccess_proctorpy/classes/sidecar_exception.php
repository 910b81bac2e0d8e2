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
 * Failure talking to the sidecar.
 *
 * @package    quizaccess_proctorpy
 * @copyright  2026 The proctorpy authors
 * @license    https://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 */

namespace quizaccess_proctorpy;

/**
 * The sidecar could not be reached, or refused the call.
 *
 * `problem` says which: `unreachable` (no answer), `blocked` (Moodle's curl security refused the
 * URL), `http` (the sidecar answered with an error status; `status`, `errorcode` and the message
 * come from its JSON body), `badanswer` (an answer that is not what the API promises).
 */
class sidecar_exception extends \Exception {
    /** @var string one of unreachable, blocked, http, badanswer */
    public $problem;
    /** @var int HTTP status, 0 when there was no answer */
    public $status;
    /** @var string the sidecar's error code, '' when none */
    public $errorcode;

    /**
     * A failure with its kind and, for answers, the sidecar's code and message.
     *
     * @param string $problem unreachable, blocked, http or badanswer
     * @param string $message human sentence
     * @param int $status HTTP status
     * @param string $errorcode the sidecar's error code
     */
    public function __construct(string $problem, string $message, int $status = 0, string $errorcode = '') {
        parent::__construct($message);
        $this->problem = $problem;
        $this->status = $status;
        $this->errorcode = $errorcode;
    }

    /**
     * The exception for an error answer, with the sidecar's own message when it sent one.
     *
     * @param response $response the answer
     * @return self
     */
    public static function from_response(response $response): self {
        $data = $response->json() ?? [];
        $code = is_string($data['error'] ?? null) ? $data['error'] : '';
        $message = is_string($data['message'] ?? null) ? $data['message']
            : 'The sidecar answered HTTP ' . $response->status . '.';
        return new self('http', $message, $response->status, $code);
    }

    /**
     * Whether trying again later may succeed (no answer, or a server-side failure).
     *
     * @return bool
     */
    public function is_transient(): bool {
        return $this->problem === 'unreachable' || $this->status >= 500 || $this->status === 429;
    }
}
