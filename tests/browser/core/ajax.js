// Stand-in for Moodle's core/ajax: posts each call to the test server's stand-in of
// lib/ajax/service.php and settles like Moodle's (rejecting with the exception object).
define([], function() {
    return {
        call: function(requests) {
            return requests.map(function(request) {
                return fetch('/forward', {method: 'POST', body: JSON.stringify(request)})
                    .then(function(response) {
                        if (!response.ok) {
                            throw {message: 'HTTP ' + response.status};
                        }
                        return response.json();
                    })
                    .then(function(answer) {
                        if (answer.error) {
                            throw answer.exception;
                        }
                        return answer.data;
                    });
            });
        }
    };
});
