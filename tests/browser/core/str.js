// Stand-in for Moodle's core/str: the plugin's English strings, served from its lang file.
define([], function() {
    var strings = null;
    var load = function() {
        strings = strings || fetch('/strings.json').then(function(response) {
            return response.json();
        });
        return strings;
    };
    return {
        // As Moodle's: {$a} takes a plain parameter, {$a->name} a field of an object.
        getString: function(key, component, param) {
            return load().then(function(all) {
                if (all[key] === undefined) {
                    return '[[' + key + ']]';
                }
                return all[key].replace(/\{\$a(?:->(\w+))?\}/g, function(whole, field) {
                    return field ? param[field] : param;
                });
            });
        }
    };
});
