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
 * Signed client of the sidecar's API.
 *
 * @package    quizaccess_proctorpy
 * @copyright  2026 The proctorpy authors
 * @license    https://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 */

namespace quizaccess_proctorpy;

/**
 * Calls the sidecar: signs every request, turns error answers into sidecar_exception.
 */
class sidecar_client {
    /** @var string base URL without trailing slash */
    private $baseurl;
    /** @var signer signs each request */
    private $signer;
    /** @var transport sends it */
    private $transport;
    /** @var int seconds per request */
    private $timeout;

    /**
     * A client for one sidecar.
     *
     * @param string $baseurl e.g. http://127.0.0.1:8765
     * @param signer $signer signer holding the shared secret
     * @param transport $transport how requests travel
     * @param int $timeout seconds per request
     */
    public function __construct(string $baseurl, signer $signer, transport $transport, int $timeout) {
        $this->baseurl = rtrim($baseurl, '/');
        $this->signer = $signer;
        $this->transport = $transport;
        $this->timeout = $timeout;
    }

    /**
     * The client configured in the site settings.
     *
     * @param int|null $timeout seconds, the site's request timeout when null
     * @return self
     */
    public static function from_config(?int $timeout = null): self {
        $config = get_config('quizaccess_proctorpy');
        return new self(
            (string) ($config->sidecarurl ?? ''),
            // Naming the site lets a sidecar refuse another Moodle site's calls (one sidecar, one site).
            new signer((string) ($config->secret ?? ''), get_site_identifier()),
            new local\moodle_transport(!empty($config->bypasscurlsecurity)),
            $timeout ?? max(1, (int) ($config->requesttimeout ?? 10))
        );
    }

    /**
     * The base URL this client calls.
     *
     * @return string
     */
    public function base_url(): string {
        return $this->baseurl;
    }

    /**
     * One signed request; any non-2xx answer is raised.
     *
     * @param string $method HTTP method
     * @param string $pathandquery path with its query, as built by api
     * @param string $body raw body
     * @param string $contenttype Content-Type of the body ('' for none)
     * @return response
     * @throws sidecar_exception
     */
    public function call(string $method, string $pathandquery, string $body = '', string $contenttype = ''): response {
        $headers = $this->signer->headers($method, $pathandquery, $body);
        if ($contenttype !== '') {
            $headers[] = 'Content-Type: ' . $contenttype;
        }
        $response = $this->transport->send($method, $this->baseurl . $pathandquery, $headers, $body, $this->timeout);
        if (!$response->ok()) {
            throw sidecar_exception::from_response($response);
        }
        return $response;
    }

    /**
     * A signed call with a JSON body (or none), answered by a JSON object.
     *
     * @param string $method HTTP method
     * @param string $pathandquery path with its query
     * @param array|null $data body as an object, null for no body
     * @return array the decoded answer ([] for an empty one)
     * @throws sidecar_exception
     */
    public function json(string $method, string $pathandquery, ?array $data = null): array {
        $body = $data === null ? '' : json_encode($data, JSON_UNESCAPED_SLASHES);
        $response = $this->call($method, $pathandquery, $body, $data === null ? '' : 'application/json');
        return self::decode($response);
    }

    /**
     * A signed multipart call carrying one image.
     *
     * @param string $method POST or PUT
     * @param string $path path
     * @param array $fields text fields
     * @param string $imagebytes PNG or JPEG bytes
     * @param string $mimetype image/png or image/jpeg
     * @return array the decoded answer
     * @throws sidecar_exception
     */
    public function image(string $method, string $path, array $fields, string $imagebytes, string $mimetype): array {
        $filename = $mimetype === 'image/png' ? 'camshot.png' : 'camshot.jpg';
        $form = new multipart($fields, [['image', $filename, $imagebytes, $mimetype]]);
        return self::decode($this->call($method, $path, $form->body, $form->contenttype));
    }

    /**
     * A signed multipart call carrying several images under one part name.
     *
     * @param string $method POST or PUT
     * @param string $path path
     * @param array $fields text fields
     * @param string $partname the name of every image part
     * @param camshot_image[] $images checked images
     * @return array the decoded answer
     * @throws sidecar_exception
     */
    public function images(string $method, string $path, array $fields, string $partname, array $images): array {
        $files = [];
        foreach ($images as $image) {
            $files[] = [$partname, $image->mimetype === 'image/png' ? 'camshot.png' : 'camshot.jpg', $image->bytes,
                $image->mimetype];
        }
        $form = new multipart($fields, $files);
        return self::decode($this->call($method, $path, $form->body, $form->contenttype));
    }

    /**
     * The unsigned health answer, whatever its status.
     *
     * @return response
     * @throws sidecar_exception when nothing answered
     */
    public function healthz(): response {
        return $this->transport->send('GET', $this->baseurl . '/healthz', [], '', $this->timeout);
    }

    /**
     * The signed ping's answer, whatever its status.
     *
     * @return response
     * @throws sidecar_exception when nothing answered
     */
    public function ping(): response {
        $path = api::ping();
        return $this->transport->send(
            'GET',
            $this->baseurl . $path,
            $this->signer->headers('GET', $path),
            '',
            $this->timeout
        );
    }

    /**
     * Decode a JSON object answer.
     *
     * @param response $response a 2xx answer
     * @return array
     * @throws sidecar_exception when the body is not a JSON object
     */
    private static function decode(response $response): array {
        if (trim($response->body) === '') {
            return [];
        }
        $data = $response->json();
        if ($data === null) {
            throw new sidecar_exception(
                'badanswer',
                'The sidecar answered something that is not JSON.',
                $response->status
            );
        }
        return $data;
    }
}
